"""Neural operator models; importing this package registers them (``specops.list_models()``)."""

from specops.models.base import OperatorModel, register_model
from specops.models.fno import FNO, IFNO, TFNO
from specops.models.serialization import load, save

__all__ = ["FNO", "IFNO", "TFNO", "OperatorModel", "load", "register_model", "save"]
