"""Autograd twins of the manual layers: ``torch.nn`` where it has the layer, lecnn's own modules
(ScaledTanh, masked/LeCun Conv2d, Subsampling, RBFOutput, RBFLoss) where it has not; ``TWINS`` maps
each spec kind to its module."""

from lecnn.nn.layers import TWINS, Conv2d, RBFLoss, RBFOutput, ScaledTanh, Subsampling

__all__ = ["TWINS", "Conv2d", "RBFLoss", "RBFOutput", "ScaledTanh", "Subsampling"]
