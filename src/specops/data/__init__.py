"""Datasets: the HDF5 file format, generation from solvers, readers for other formats, PyTorch datasets.

The format is described in docs/data-format.md.
"""

from specops.data.convert import convert
from specops.data.datasets import (
    DataSplits,
    OperatorDataset,
    TrajectoryDataset,
    load_splits,
    open_dataset,
    split_indices,
)
from specops.data.formats import FORMATS
from specops.data.generate import generate_dataset
from specops.data.io import DatasetInfo, read_info, verify_file
from specops.data.normalization import (
    GaussianNormalizer,
    IdentityNormalizer,
    MinMaxNormalizer,
    Normalizer,
    fit_normalizers,
    make_normalizer,
    normalizer_from_state,
)
from specops.data.schema import FORMAT_NAME, FORMAT_VERSION, DataFormatError
from specops.data.shards import merge_shards

__all__ = [
    "FORMATS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "DataFormatError",
    "DataSplits",
    "DatasetInfo",
    "GaussianNormalizer",
    "IdentityNormalizer",
    "MinMaxNormalizer",
    "Normalizer",
    "OperatorDataset",
    "TrajectoryDataset",
    "convert",
    "fit_normalizers",
    "generate_dataset",
    "load_splits",
    "make_normalizer",
    "merge_shards",
    "normalizer_from_state",
    "open_dataset",
    "read_info",
    "split_indices",
    "verify_file",
]
