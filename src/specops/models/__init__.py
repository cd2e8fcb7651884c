"""Neural operator models; importing this package registers them (``specops.list_models()``)."""

from specops.models.base import OperatorModel, register_model
from specops.models.fno import FNO, IFNO, TFNO
from specops.models.fno_variants import NUFTFNO
from specops.models.normalization import FieldNormalization
from specops.models.predictor import Predictor
from specops.models.rollout import rollout
from specops.models.serialization import load, save

__all__ = [
    "FNO",
    "IFNO",
    "NUFTFNO",
    "TFNO",
    "FieldNormalization",
    "OperatorModel",
    "Predictor",
    "load",
    "register_model",
    "rollout",
    "save",
]
