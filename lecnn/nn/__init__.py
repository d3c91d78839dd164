"""Autograd twins of the manual layers: ``torch.nn`` where it has the layer, lecnn's own modules
(ScaledTanh, masked/LeCun Conv2d, Dropout drawing from a given generator, Subsampling, RBFOutput, RBFLoss) where it has not; ``TWINS`` maps
each spec kind to its module."""

from lecnn.nn.layers import (
    TWINS,
    Conv2d,
    Dropout,
    HalfSquaredError,
    RBFLoss,
    RBFOutput,
    ScaledTanh,
    Subsampling,
)

__all__ = [
    "TWINS",
    "Conv2d",
    "Dropout",
    "HalfSquaredError",
    "RBFLoss",
    "RBFOutput",
    "ScaledTanh",
    "Subsampling",
]
