"""specops: learn the solution operators of PDEs with spectral neural operators.

Generate data with batched PyTorch solvers, train Fourier neural operators, evaluate them honestly.
"""

__version__ = "0.1.0"

from specops.layers import FNOBlock, SpectralConv
from specops.losses import H1FDLoss, LpLoss, SobolevLoss
from specops.models import FNO, IFNO, TFNO, OperatorModel, load, save
from specops.registry import MODELS


def create_model(name: str, **kwargs) -> OperatorModel:
    """Build a registered model or preset by name; ``kwargs`` override its defaults.

    >>> model = create_model("fno", n_modes=(16, 16), hidden_channels=32)
    """
    return MODELS.create(name, **kwargs)


def list_models() -> list[str]:
    """Names of the registered models and presets."""
    return MODELS.names()


__all__ = [
    "FNO",
    "IFNO",
    "TFNO",
    "FNOBlock",
    "H1FDLoss",
    "LpLoss",
    "OperatorModel",
    "SobolevLoss",
    "SpectralConv",
    "__version__",
    "create_model",
    "list_models",
    "load",
    "save",
]
