"""Neural operator models; importing this package registers them (``specops.list_models()``)."""

from specops.models.base import OperatorModel, register_model
from specops.models.deeponet import DeepONet, MultiONet
from specops.models.fno import FNO, IFNO, TFNO
from specops.models.normalization import FieldNormalization
from specops.models.patching import MultigridPatching
from specops.models.predictor import Predictor
from specops.models.rollout import rollout
from specops.models.serialization import load, save
from specops.models.sfno import SFNO

__all__ = [
    "FNO",
    "IFNO",
    "SFNO",
    "TFNO",
    "DeepONet",
    "FieldNormalization",
    "MultiONet",
    "MultigridPatching",
    "OperatorModel",
    "Predictor",
    "load",
    "register_model",
    "rollout",
    "save",
]
