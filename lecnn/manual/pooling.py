"""Subsampling and pooling layers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lecnn.manual.base import Counts, Layer, WeightedLayer
from lecnn.manual.conv import pair

LAST = torch.channels_last


def _pool_geometry(
    x_shape: Sequence[int], kernel: tuple[int, int], stride: tuple[int, int]
) -> tuple[int, int]:
    (kh, kw), (sh, sw) = kernel, stride
    hout = (x_shape[2] - kh) // sh + 1
    wout = (x_shape[3] - kw) // sw + 1
    return hout, wout


def _tap(k: int, l: int, stride: tuple[int, int], out: tuple[int, int]) -> tuple[slice, slice]:
    """The input positions that kernel tap (k, l) reads for every output position."""
    (sh, sw), (hout, wout) = stride, out
    return slice(k, k + sh * (hout - 1) + 1, sh), slice(l, l + sw * (wout - 1) + 1, sw)


class Pool(Layer):
    """What the pooling layers share: kernel and stride (``stride`` defaults to ``kernel_size``),
    no parameters, and their counts: each output unit reads its kh·kw window."""

    def __init__(
        self, kernel_size: int | Sequence[int], stride: int | Sequence[int] | None = None
    ) -> None:
        super().__init__()
        self.kernel_size = pair(kernel_size)
        self.stride = pair(stride) if stride is not None else self.kernel_size

    def counts(self, x: torch.Tensor, y: torch.Tensor) -> Counts:
        kh, kw = self.kernel_size
        return Counts(y.numel(), 0, y.numel() * kh * kw)


class AvgPool2d(Pool):
    """Average pooling (no padding).

    Forward   ``y_{p,q} = (1/(kh·kw)) Σ_{k,l} x_{s·p+k, s·q+l}``
    Backward  ``dx_{i,j} = Σ_{windows holding (i,j)} dy_{p,q} / (kh·kw)``
    Curvature ``d2x_{i,j} = Σ_{windows holding (i,j)} d2y_{p,q} / (kh·kw)²``
    Shapes: N×C×H×W → N×C×H′×W′, H′ = ⌊(H − kh)/s⌋ + 1; ``stride`` defaults to ``kernel_size``.
    """

    kind = "avgpool"
    saved = ("x_shape", "out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.x_shape = x.shape
        self.out = _pool_geometry(x.shape, self.kernel_size, self.stride)
        kh, kw = self.kernel_size
        y = x.new_zeros(*x.shape[:2], *self.out)
        for k in range(kh):
            for l in range(kw):
                rows, cols = _tap(k, l, self.stride, self.out)
                y += x[..., rows, cols]
        return y / (kh * kw)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        dx = dy.new_zeros(self.x_shape)
        share = dy / (kh * kw)
        for k in range(kh):
            for l in range(kw):
                rows, cols = _tap(k, l, self.stride, self.out)
                dx[..., rows, cols] += share
        return dx

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        kh, kw = self.kernel_size
        return self.backward(d2y) / (kh * kw)  # slope 1/(kh·kw), squared


class Subsampling(WeightedLayer):
    """LeNet's subsampling layer: the 2×2 average (or sum) of each map, times a trainable
    coefficient, plus a trainable bias, one of each per map (LeCun et al. 1998, layer S2: "the four
    inputs to a unit in S2 are added, then multiplied by a trainable coefficient"). With
    ``copies`` = r each input map feeds r subsampling maps of their own (LeNet-4's S2: 8 maps
    "connected in pairs" to 4).

    Forward  ``y_{c,p,q} = w_c · m_{c,p,q} + b_c``, ``m_{c,p,q} = s Σ_{k,l∈{0,1}} x_{⌊c/r⌋,2p+k,2q+l}``,
             ``s = ¼`` (``mode="mean"``) or 1 (``mode="sum"``, the paper's)
    Backward ``∂L/∂w_c = Σ dy_{c,p,q} m_{c,p,q}``, ``∂L/∂b_c = Σ dy_{c,p,q}``,
             ``dx_{i,2p+k,2q+l} = s Σ_{c: ⌊c/r⌋=i} w_c dy_{c,p,q}``
    Shapes: N×C×H×W → N×(r·C)×⌊H/2⌋×⌊W/2⌋; ``weight`` r·C, ``bias`` r·C.
    Curvature ``∂²E/∂w_c² ≈ Σ d2y m²``, ``∂²E/∂b_c² ≈ Σ d2y``,
             ``d2x_i = Σ_{c: ⌊c/r⌋=i} (s w_c)² d2y_c`` per input
    Initialised to w = ``coefficient``, b = 0.
    """

    kind = "subsampling"
    saved = ("m",)

    def __init__(
        self,
        channels: int,
        mode: str = "mean",
        coefficient: float = 1.0,
        copies: int = 1,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("mean", "sum"):
            raise ValueError(f"subsampling mode {mode!r}: choose mean or sum")
        self.mode, self.copies = mode, int(copies)
        self.s = 1.0 if mode == "sum" else 0.25  # the sum's share each input gets
        self.coefficient = float(coefficient)
        self.params["weight"] = torch.empty(channels * self.copies)
        self.params["bias"] = torch.empty(channels * self.copies)
        self.pool = AvgPool2d(2)
        self.reset_parameters("torch", generator)

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        """Every scheme: w = ``coefficient``, b = 0 (nothing is drawn; the papers leave the
        coefficients to the model's spec)."""
        self.params["weight"].fill_(self.coefficient)
        self.params["bias"].zero_()
        self.zero_grad()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.m = self.pool.forward(x) * (4 * self.s)
        if self.copies > 1:
            self.m = self.m.repeat_interleave(self.copies, dim=1)
        w, b = self.params["weight"], self.params["bias"]
        return self.m * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)

    def _to_inputs(self, dm: torch.Tensor) -> torch.Tensor:
        """Sum over each input map's copies, then spread each unit's share over its window."""
        if self.copies > 1:
            n, c, h, w = dm.shape
            dm = dm.view(n, c // self.copies, self.copies, h, w).sum(2)
        return self.pool.backward(dm)

    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        self.grads["weight"] = (dy * self.m).sum((0, 2, 3))
        self.grads["bias"] = dy.sum((0, 2, 3))
        if not self.needs_input_grad:
            return None
        # the average's backward gives each input ¼ of its unit's dy; the sum's gives all of it
        return self._to_inputs(dy * self.params["weight"].view(1, -1, 1, 1)) * (4 * self.s)

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        w = self.params["weight"].view(1, -1, 1, 1)
        self.hess = {"weight": (d2y * self.m * self.m).sum((0, 2, 3)), "bias": d2y.sum((0, 2, 3))}
        # each input feeds one unit per copy with slope s·w: (s·w)² d2y (the pool gives ¼ of it)
        return self._to_inputs(d2y * w * w) * (4 * self.s * self.s)

    def counts(self, x: torch.Tensor, y: torch.Tensor) -> Counts:
        return Counts(y.numel(), 2 * self.params["weight"].numel(), y.numel() * 5)  # 4 in + bias


class MaxPool2d(Pool):
    """Max pooling (no padding).

    Forward   ``y_{p,q} = max_{k,l} x_{s·p+k, s·q+l}``
    Backward  ``dx`` receives ``dy_{p,q}`` at the winning position of each window, summed where
    windows overlap. Tie rule: the first maximum in row-major order within the window wins, as in
    PyTorch (``Tensor.max(dim)`` returns the first of equal maxima, as PyTorch's kernel keeps it).
    Curvature ``d2x`` likewise: slope 1 at the winner, 0 elsewhere.
    Shapes: N×C×H×W → N×C×H′×W′, H′ = ⌊(H − kh)/s⌋ + 1; ``stride`` defaults to ``kernel_size``.

    ``method``: ``"fields"`` lays each window out as a column, takes its max and scatters ``dy``
    back to the winners (the formulas as written); ``"kernel"`` (the default) finds the maxima
    with the framework's max-pooling *forward* kernel, which records each window's winner as its
    position in the map, and scatters ``dy`` to those positions with one ``scatter_add_`` (no
    derivative kernel). Tests hold the two equal, ties, strides and overlapping windows included.
    """

    kind = "maxpool"
    METHODS = ("fields", "kernel")

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        method: str = "kernel",
    ) -> None:
        super().__init__(kernel_size, stride)
        if method not in self.METHODS:
            raise ValueError(f"method {method!r}: choose {', '.join(self.METHODS)}")
        self.method = method
        # the fields form remembers whether its windows tile the map (a reshape lays them out)
        extra = () if method == "kernel" else ("tiled",)
        self.saved = ("x_shape", "out", "winner", *extra)

    def _fields(self, x: torch.Tensor) -> torch.Tensor:
        """N×C×(kh·kw)×L: each window's values, taps in row-major order."""
        n, c, h, w = x.shape
        (kh, kw), (hout, wout) = self.kernel_size, self.out
        if self.tiled:
            t = x.view(n, c, hout, kh, wout, kw).permute(0, 1, 3, 5, 2, 4)
            return t.reshape(n, c, kh * kw, hout * wout)
        return F.unfold(x, self.kernel_size, stride=self.stride).view(n, c, kh * kw, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = self.x_shape = x.shape
        self.out = _pool_geometry(x.shape, self.kernel_size, self.stride)
        if self.method == "kernel":  # winner: each window's winning position in its map
            y, self.winner = F.max_pool2d(x, self.kernel_size, self.stride, return_indices=True)
            return y
        (kh, kw), (hout, wout) = self.kernel_size, self.out
        # windows that tile the map exactly are laid out by a reshape, no unfold
        self.tiled = self.stride == self.kernel_size and h == hout * kh and w == wout * kw
        y, self.winner = self._fields(x).max(dim=2)  # winner: the tap within its window
        return y.view(n, c, *self.out)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        n, c, h, w = self.x_shape
        if self.method == "kernel":  # dy scattered to the recorded winners, overlaps added
            if dy.dim() == 4 and not dy.is_contiguous() and dy.is_contiguous(memory_format=LAST):
                # channels-last: the same scatter over an N×(H·W)×C view, dx laid out as dy
                dx = dy.new_zeros(n, h * w, c)
                winners, shares = (
                    t.permute(0, 2, 3, 1).reshape(n, -1, c) for t in (self.winner, dy)
                )
                return dx.scatter_add_(1, winners, shares).view(n, h, w, c).permute(0, 3, 1, 2)
            dx = dy.new_zeros(n, c, h * w)
            return dx.scatter_add_(2, self.winner.flatten(2), dy.flatten(2)).view(n, c, h, w)
        (kh, kw), (hout, wout) = self.kernel_size, self.out
        dfields = dy.new_zeros(n, c, kh * kw, hout * wout)
        dfields.scatter_(2, self.winner.unsqueeze(2), dy.reshape(n, c, 1, -1))
        if self.tiled:
            t = dfields.view(n, c, kh, kw, hout, wout).permute(0, 1, 4, 2, 5, 3)
            return t.reshape(n, c, h, w)
        return F.fold(
            dfields.view(n, c * kh * kw, -1), (h, w), self.kernel_size, stride=self.stride
        )

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        return self.backward(d2y)
