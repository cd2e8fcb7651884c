"""Neural operator models; importing this package registers them (``specops.list_models()``)."""

from specops.models.base import OperatorModel, register_model
from specops.models.deeponet import DeepONet, MultiONet
from specops.models.factformer import IFactFormer
from specops.models.ffno import FFNO
from specops.models.fno import FNO, IFNO, TFNO
from specops.models.fno_variants import NUFTFNO
from specops.models.lsm import LSM
from specops.models.mgno import MgNO
from specops.models.normalization import FieldNormalization
from specops.models.patching import MultigridPatching
from specops.models.predictor import Predictor
from specops.models.rollout import rollout
from specops.models.serialization import load, save
from specops.models.sfno import SFNO
from specops.models.t1 import T1
from specops.models.unet import UNet
from specops.models.uno import UNO

__all__ = [
    "FFNO",
    "FNO",
    "IFNO",
    "LSM",
    "NUFTFNO",
    "SFNO",
    "T1",
    "TFNO",
    "UNO",
    "DeepONet",
    "FieldNormalization",
    "IFactFormer",
    "MgNO",
    "MultiONet",
    "MultigridPatching",
    "OperatorModel",
    "Predictor",
    "UNet",
    "load",
    "register_model",
    "rollout",
    "save",
]
