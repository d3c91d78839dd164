"""Hand-written backpropagation: layers with explicit forward/backward passes, no autograd.

Every layer has ``params`` and ``grads`` (same keys, ``torch.nn`` names and shapes),
``forward(x) -> y``, ``backward(dy) -> dx`` and ``zero_grad()``; losses have
``forward(pred, target)`` and ``backward() -> dpred``. Works on any device and float dtype.
"""

from lecnn.manual.activations import ReLU, ScaledTanh, Sigmoid, Tanh
from lecnn.manual.backprop import back_prop_learning
from lecnn.manual.base import Layer, Loss, Sequential
from lecnn.manual.bridge import as_function, as_loss_function
from lecnn.manual.conv import Conv2d
from lecnn.manual.dropout import Dropout
from lecnn.manual.linear import Flatten, Linear
from lecnn.manual.losses import MSELoss, RBFLoss, RBFOutput, SoftmaxCrossEntropy
from lecnn.manual.optim import (
    SDLM,
    SGD,
    Adam,
    Constant,
    Cosine,
    InverseTime,
    LinearDecay,
    PassLinear,
    Steps,
)
from lecnn.manual.pooling import AvgPool2d, MaxPool2d, Subsampling

__all__ = [
    "SDLM",
    "SGD",
    "Adam",
    "AvgPool2d",
    "Constant",
    "Conv2d",
    "Cosine",
    "Dropout",
    "Flatten",
    "InverseTime",
    "Layer",
    "Linear",
    "LinearDecay",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "PassLinear",
    "RBFLoss",
    "RBFOutput",
    "ReLU",
    "ScaledTanh",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Steps",
    "Subsampling",
    "Tanh",
    "as_function",
    "as_loss_function",
    "back_prop_learning",
]
