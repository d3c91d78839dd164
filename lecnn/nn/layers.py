"""Autograd twins of the manual layers that ``torch.nn`` lacks. Gradients come from autograd;
parameter names and shapes match the manual layers so state dicts interchange."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from lecnn.manual.activations import LECUN_A, LECUN_S
from lecnn.manual.conv import ConvGeometry
from lecnn.manual.dropout import dropout_mask, dropout_probability

#: spec kind → the autograd module: torch.nn's own where it has the layer, lecnn's below otherwise
TWINS: dict[str, type[nn.Module]] = {
    "linear": nn.Linear,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "flatten": nn.Flatten,
    "maxpool": nn.MaxPool2d,
    "avgpool": nn.AvgPool2d,
}


class Twin(nn.Module):
    """An autograd module of lecnn's own; naming its ``kind`` registers it in ``TWINS``."""

    kind = ""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__ and cls.kind:  # named by the class itself, not inherited
            TWINS[cls.kind] = cls


class ScaledTanh(Twin):
    """``1.7159·tanh(2z/3)``, LeCun's squashing function."""

    kind = "scaled_tanh"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return LECUN_A * torch.tanh(LECUN_S * x)


class Conv2d(ConvGeometry, Twin):
    """``F.conv2d`` with a connection table (a weight mask), a padding value and channel or per-unit
    biases; same arguments, checks and parameters as ``lecnn.manual.Conv2d`` (``ConvGeometry``)."""

    kind = "conv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        pad_value: float = 0.0,
        connection_table: torch.Tensor | Sequence[Sequence[bool]] | None = None,
        bias: str | None = "channel",
        input_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        mask = self._setup(
            in_channels, out_channels, kernel_size, stride, padding, pad_value,
            connection_table, bias, input_size,
        )  # fmt: skip
        weight, bias_init = self.default_weights(mask, None)  # torch's default generator
        if connection_table is None:
            self.mask = None
        else:
            self.register_buffer("mask", mask, persistent=False)
        self.weight = nn.Parameter(weight)
        if bias_init is not None:
            self.bias = nn.Parameter(bias_init)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight if self.mask is None else self.weight * self.mask
        ph, pw = self.padding
        if self.pad_value != 0.0 and (ph or pw):
            x = F.pad(x, (pw, pw, ph, ph), value=self.pad_value)
            padding: int | tuple[int, int] = 0
        else:
            padding = self.padding
        channel_bias = self.bias if self.bias_mode == "channel" else None
        y = F.conv2d(x, w, channel_bias, stride=self.stride, padding=padding)
        return y + self.bias if self.bias_mode == "unit" else y


class Subsampling(Twin):
    """LeNet's 2×2 average (``mode="mean"``) or sum (``"sum"``) × trainable coefficient +
    trainable bias, per map."""

    kind = "subsampling"

    def __init__(
        self, channels: int, mode: str = "mean", coefficient: float = 1.0, copies: int = 1
    ) -> None:
        super().__init__()
        self.scale, self.copies = (4.0 if mode == "sum" else 1.0), copies
        self.weight = nn.Parameter(torch.full((channels * copies,), float(coefficient)))
        self.bias = nn.Parameter(torch.zeros(channels * copies))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (F.avg_pool2d(x, 2) * self.scale).repeat_interleave(self.copies, dim=1)
        return m * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class Dropout(Twin):
    """Inverted dropout with the mask ``lecnn.manual.Dropout`` draws (``dropout_mask``), from
    ``generator`` (the run's own; torch's default one when None); autograd carries the gradient.
    ``torch.nn.Dropout`` draws its masks from torch's default generator, another way."""

    kind = "dropout"

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.p, self.generator = dropout_probability(p), generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * dropout_mask(x, self.p, self.generator)


class RBFOutput(Twin):
    """Euclidean RBF units ``y_i = Σ_j (x_j − w_ij)²`` with fixed prototypes (a buffer)."""

    kind = "rbf"

    def __init__(self, prototypes: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", prototypes.clone().float())

    weight: torch.Tensor  # the prototypes, a buffer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.unsqueeze(1) - self.weight.unsqueeze(0)) ** 2).sum(2)


class RBFLoss(nn.Module):
    """LeNet-5's criterion ``y_D + log(e^{−j} + Σ_i e^{−y_i})``, mean over the batch."""

    def __init__(self, j: float = 0.1) -> None:
        super().__init__()
        self.j = float(j)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        const = torch.full_like(pred[:, :1], -self.j)
        lse = torch.logsumexp(torch.cat([const, -pred], dim=1), dim=1)
        return (pred.gather(1, target.view(-1, 1)).squeeze(1) + lse).mean()


class HalfSquaredError(nn.Module):
    """``½ Σ (pred − target)²`` over every entry of the batch (the authors' LeNet-5 code's cost)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target, reduction="sum") * 0.5
