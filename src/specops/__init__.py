"""specops: learn the solution operators of PDEs with spectral neural operators.

Generate data with batched PyTorch solvers, train Fourier neural operators, evaluate them honestly.
"""

__version__ = "0.1.0"

from specops.layers import FNOBlock, SpectralConv
from specops.losses import H1FDLoss, LpLoss, SobolevLoss
from specops.models import FNO, IFNO, SFNO, TFNO, MultigridPatching, OperatorModel, load, register_model, save
from specops.registry import MODELS


def create_model(name: str, **kwargs) -> OperatorModel:
    """Build a registered model or preset by name; ``kwargs`` override its defaults (option groups such as
    ``spectral={...}`` are merged key by key with a preset's).

    >>> model = create_model("fno", n_modes=(16, 16), hidden_channels=32, spectral={"factorization": "cp"})
    """
    return MODELS.create(name, **kwargs)


def load_predictor(source, checkpoint: str | None = None, *, map_location="cpu"):
    """A trained run's model with its normalizers: physical fields in, physical fields out.

    ``source`` is a run directory written by ``specops train`` or one of its checkpoint files; see
    ``specops.pipeline.load_predictor``.

    >>> predictor = load_predictor("runs/darcy")
    >>> u = predictor(a)  # a: (batch, C_in, *space) in the data's units, any resolution
    """
    from specops.pipeline import load_predictor as _load_predictor

    return _load_predictor(source, checkpoint, map_location=map_location)


def list_models() -> list[str]:
    """Names of the registered models and presets."""
    return MODELS.names()


__all__ = [
    "FNO",
    "IFNO",
    "SFNO",
    "TFNO",
    "FNOBlock",
    "H1FDLoss",
    "LpLoss",
    "MultigridPatching",
    "OperatorModel",
    "SobolevLoss",
    "SpectralConv",
    "__version__",
    "create_model",
    "list_models",
    "load",
    "load_predictor",
    "register_model",
    "save",
]
