"""Autograd twins of the manual layers: ``torch.nn`` where it has the layer, lecnn's own modules
(ScaledTanh, masked/LeCun Conv2d, Subsampling, RBFOutput, RBFLoss) where it has not."""

from lecnn.nn.layers import Conv2d, RBFLoss, RBFOutput, ScaledTanh, Subsampling

__all__ = ["Conv2d", "RBFLoss", "RBFOutput", "ScaledTanh", "Subsampling"]
