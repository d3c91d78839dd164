"""LeNet-style networks defined once, built as hand-written layers or as torch.nn modules."""

from lecnn.manual import Counts
from lecnn.models.build import IMPLS, build, build_loss, count, get_spec
from lecnn.models.shipped import pretrained
from lecnn.models.spec import MODELS, ModelSpec, TrainDefaults
from lecnn.models.tables import LENET5_C3, ZIP_H2, rbf_prototypes

__all__ = [
    "IMPLS",
    "LENET5_C3",
    "MODELS",
    "ZIP_H2",
    "Counts",
    "ModelSpec",
    "TrainDefaults",
    "build",
    "build_loss",
    "count",
    "get_spec",
    "pretrained",
    "rbf_prototypes",
]
