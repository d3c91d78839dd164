"""Hand-written backpropagation: layers with explicit forward/backward passes, no autograd.

Every layer has ``params`` and ``grads`` (same keys, ``torch.nn`` names and shapes),
``forward(x) -> y``, ``backward(dy) -> dx``, ``backward_curvature(d2y) -> d2x``, ``counts`` and
``zero_grad()``; ``functional_call``/``functional_grads`` run a network with given parameters
(``torch.func.functional_call``'s counterpart, which ``vmap`` can map over); losses have ``forward(pred, target)``, ``backward() -> dpred`` and
``curvature()``. Works on any device and float dtype. Nothing here imports another lecnn package.
"""

from lecnn.manual.activations import Activation, ReLU, ScaledTanh, Sigmoid, Tanh
from lecnn.manual.backprop import back_prop_learning
from lecnn.manual.base import LAYERS, Counts, Layer, Loss, Sequential, WeightedLayer
from lecnn.manual.conv import Conv2d
from lecnn.manual.dropout import Dropout
from lecnn.manual.functional import functional_call, functional_grads, using
from lecnn.manual.linear import Flatten, Linear
from lecnn.manual.losses import MSELoss, RBFLoss, SoftmaxCrossEntropy
from lecnn.manual.optim import SDLM, SGD, Adam
from lecnn.manual.pooling import AvgPool2d, MaxPool2d, Subsampling
from lecnn.manual.rbf import RBFOutput

__all__ = [
    "LAYERS",
    "SDLM",
    "SGD",
    "Activation",
    "Adam",
    "AvgPool2d",
    "Conv2d",
    "Counts",
    "Dropout",
    "Flatten",
    "Layer",
    "Linear",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "RBFLoss",
    "RBFOutput",
    "ReLU",
    "ScaledTanh",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Subsampling",
    "Tanh",
    "back_prop_learning",
    "functional_call",
    "functional_grads",
    "using",
    "WeightedLayer",
]

# a layer added to one of the modules above is exported by its own registration (``kind``)
for _layer in LAYERS.values():
    globals().setdefault(_layer.__name__, _layer)
    if _layer.__name__ not in __all__:
        __all__.append(_layer.__name__)
