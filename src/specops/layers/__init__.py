"""Neural-network building blocks (nn.Modules) of the spectral operators."""

from specops.layers.activations import get_activation
from specops.layers.embeddings import GridEmbedding
from specops.layers.factorized import CPWeight, DenseWeight, TTWeight, TuckerWeight, make_spectral_weight
from specops.layers.fno_block import FNOBlock
from specops.layers.mlp import ChannelMLP, PointwiseLinear, SoftGating
from specops.layers.padding import DomainPadding
from specops.layers.spectral_conv import SpectralConv

__all__ = [
    "CPWeight",
    "ChannelMLP",
    "DenseWeight",
    "DomainPadding",
    "FNOBlock",
    "GridEmbedding",
    "PointwiseLinear",
    "SoftGating",
    "SpectralConv",
    "TTWeight",
    "TuckerWeight",
    "get_activation",
    "make_spectral_weight",
]
