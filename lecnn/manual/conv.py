"""2-D convolution with LeCun's extras: connection tables, a padding value, per-unit biases.

Three implementations of the same formulas sit side by side: ``_forward_loop``/``_backward_loop``
walk the output positions and read like the equations; ``_forward_unfold``/``_backward_unfold``
lay every receptive field out as a column (im2col, via ``Tensor.unfold``) and turn the sums into
matrix products; ``_forward_conv``/``_backward_conv`` write each sum as one call of the
framework's forward convolution ops. Tests hold the three equal; ``method="auto"`` picks per batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lecnn.manual.base import Counts, WeightedLayer
from lecnn.manual.init import check_scheme, fan_in_weights, uniform


def pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


#: the three ways Conv2d computes the same sums: a loop over output positions (readable), im2col
#: matrix products, and the framework's forward convolution ops (``conv2d`` and
#: ``conv_transpose2d``; never its derivative kernels)
METHODS = ("unfold", "loop", "conv")
#: ``method="auto"`` (the default) picks per batch what measured fastest (scripts/bench_conv.py,
#: runs/bench/bench_conv-cpu.txt): im2col for a few examples, where a kernel call's fixed cost
#: dominates (lecun1989 per example: 412 µs vs 747 µs; lenet5 at 16: 4.44 vs 4.54 ms), the
#: framework's kernels from this many examples up (lenet5-modern at 128: 20.7 vs 27.8 ms)
KERNELS_FROM = 32


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class ConvGeometry:
    """What ``Conv2d`` and its autograd twin share: their arguments, checked once, the connection
    mask, fan-in, output size and the initial weights (``torch.nn.Conv2d``'s U(±1/√fan_in))."""

    def _setup(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int],
        padding: int | Sequence[int],
        pad_value: float,
        connection_table: torch.Tensor | Sequence[Sequence[bool]] | None,
        bias: str | None,
        input_size: Sequence[int] | None,
    ) -> torch.Tensor:
        """Set the geometry attributes; return the connection mask (C_out×C_in×kh×kw)."""
        if bias not in ("channel", "unit", None):
            raise ValueError(f"bias must be 'channel', 'unit' or None, not {bias!r}")
        if bias == "unit" and input_size is None:
            raise ValueError("a per-unit bias needs input_size=(H, W)")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        self.pad_value, self.bias_mode = float(pad_value), bias
        self.input_size = tuple(input_size) if input_size is not None else None
        kh, kw = self.kernel_size
        if connection_table is None:
            table = torch.ones(out_channels, in_channels, dtype=torch.bool)
        else:
            table = torch.as_tensor(connection_table, dtype=torch.bool)
            if table.shape != (out_channels, in_channels):
                raise ValueError(
                    f"connection_table must be {out_channels}×{in_channels} (out×in), "
                    f"not {tuple(table.shape)}"
                )
        self.connection_table = table
        return table[:, :, None, None].float().expand(-1, -1, kh, kw).contiguous()

    def bias_shape(self) -> tuple[int, ...] | None:
        """C_out for a channel bias, C_out×H′×W′ for a per-unit one, None without."""
        if self.bias_mode == "channel":
            return (self.out_channels,)
        if self.bias_mode == "unit":
            assert self.input_size is not None  # checked in _setup
            return (self.out_channels, *self.output_size(self.input_size))
        return None

    def default_weights(
        self, mask: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``torch.nn.Conv2d``'s initial (weight, bias): U(±1/√F), F the largest fan-in, weights
        zero where the table connects nothing; a per-unit bias starts at 0. Drawn from
        ``generator`` (torch's default one when None), the weight first."""
        bound = 1.0 / math.sqrt(self.fan_in().max().item())  # torch.nn.Conv2d's default bound
        weight = uniform(mask.shape, bound, generator) * mask.cpu().float()
        if self.bias_mode == "channel":
            b = uniform((self.out_channels,), bound, generator)
        elif self.bias_mode == "unit":
            assert self.input_size is not None  # checked in _setup
            b = torch.zeros(self.out_channels, *self.output_size(self.input_size))
        else:
            b = None
        return weight, b

    def fan_in(self) -> torch.Tensor:
        """Inputs feeding one unit of each output map (connected maps × kh × kw), shape C_out."""
        kh, kw = self.kernel_size
        return self.connection_table.sum(1) * kh * kw

    def output_size(self, input_size: Sequence[int]) -> tuple[int, int]:
        """(H′, W′) for an input of (H, W)."""
        (h, w), (kh, kw), (sh, sw), (ph, pw) = (
            input_size, self.kernel_size, self.stride, self.padding
        )  # fmt: skip
        return conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)


class Conv2d(ConvGeometry, WeightedLayer):
    """Convolution: each output unit j at position (p, q) of map o is a weighted sum over its
    receptive field, shared weights across positions.

    Forward  ``in_{o,p,q} = Σ_{c,k,l} w_{o,c,k,l} · a_{c, s·p+k, s·q+l} + b``
             over the input padded with ``pad_value`` (the 1989 net pads with −1, the background)
             and over the input maps c that ``connection_table[o, c]`` connects (all when None).
             ``b`` is ``b_o`` (``bias="channel"``) or ``b_{o,p,q}`` (``bias="unit"``, one per unit).
    Backward ``∂L/∂w_{o,c,k,l} = Σ_{n,p,q} dy_{o,p,q} · a_{c,s·p+k,s·q+l}`` (masked by the table)
             ``∂L/∂b = Σ dy`` over batch and positions (``channel``) or over the batch (``unit``)
             ``dx_{c,i,j} = Σ_{o,p,q : s·p+k=i, s·q+l=j} w_{o,c,k,l} · dy_{o,p,q}`` (cropped of padding)

    Shapes: x N×C_in×H×W → y N×C_out×H′×W′, H′ = ⌊(H + 2·padding − kh)/stride⌋ + 1.
    ``weight`` C_out×C_in×kh×kw (unconnected entries held at 0), ``bias`` C_out or C_out×H′×W′.
    A per-unit bias needs ``input_size=(H, W)``.

    Curvature ``∂²E/∂w² ≈ Σ d2y · a²`` over the positions sharing the weight,
              ``d2x_{c,i,j} = Σ w² d2y`` sent back like dx (LeCun 1998, Appendix C)
    """

    kind = "conv"
    saved = ("x_shape", "a", "used", "fields")  # fields: im2col's columns, None by the others
    carried = ("mask",)  # the connection table as 0/1 weights: not state, but moved with it

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
        method: str = "auto",
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if method not in (*METHODS, "auto"):
            raise ValueError(f"method must be auto or one of {', '.join(METHODS)}, not {method!r}")
        self.method = method
        self.mask = self._setup(
            in_channels, out_channels, kernel_size, stride, padding, pad_value,
            connection_table, bias, input_size,
        )  # fmt: skip
        self.params["weight"] = torch.empty(self.mask.shape)
        if (bias_shape := self.bias_shape()) is not None:
            self.params["bias"] = torch.empty(bias_shape)
        self.reset_parameters("torch", generator)

    @torch.no_grad()
    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        """``torch``: ``torch.nn.Conv2d``'s U(±1/√F) (``default_weights``); the papers' schemes:
        U(±2.4/√F_o) (or /F_o) with F_o the fan-in of map o's units, bias 0. Unconnected weights
        stay 0."""
        check_scheme(scheme)
        w = self.params["weight"]
        if scheme == "torch":
            weight, bias = self.default_weights(self.mask, generator)
            w.copy_(weight)
            if bias is not None:
                self.params["bias"].copy_(bias)
        else:
            fan_in_weights(w, self.fan_in(), scheme, generator)
            w.mul_(self.mask)
            if "bias" in self.params:
                self.params["bias"].zero_()
        self.zero_grad()

    # the fold-or-taps switch for col2im on the CPU, in elements of the field gradients: one
    # F.fold call wins while launches dominate (per-example SGD, and always on a GPU), one add per
    # tap wins on large batches
    col2im_taps_from = 1 << 18

    def _loaded(self) -> None:
        self.mask = self.mask.to(self.params["weight"])

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = self.padding
        if ph == 0 and pw == 0:
            return x
        return F.pad(x, (pw, pw, ph, ph), value=self.pad_value)

    def _weight(self) -> torch.Tensor:
        return self.params["weight"] * self.mask  # w_{o,c,k,l}, zero where not connected

    def _add_bias(self, y: torch.Tensor) -> torch.Tensor:
        if self.bias_mode == "channel":
            y += self.params["bias"].view(1, -1, 1, 1)
        elif self.bias_mode == "unit":
            y += self.params["bias"]
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.x_shape = x.shape
        self.a = self._pad(x)  # a_{c,i,j}: the padded input
        self.used = self.method  # this batch's method, which its backward uses too
        if self.used == "auto":
            self.used = "conv" if x.shape[0] >= KERNELS_FROM else "unfold"
        self.fields: torch.Tensor | None = None  # set by im2col; no stale columns held otherwise
        forward = {"loop": self._forward_loop, "unfold": self._forward_unfold}
        y = forward.get(self.used, self._forward_conv)()
        return self._add_bias(y)

    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        if self.bias_mode is not None:
            self.grads["bias"] = self.bias_sum(dy)
        backward = {"loop": self._backward_loop, "unfold": self._backward_unfold}
        dw, da = backward.get(self.used, self._backward_conv)(dy)
        # the mask first: a product takes its first operand's layout, and the mask lies as the
        # weight does (channels-last or not), so the optimizer's foreach arithmetic walks weight,
        # gradient and state in one order (mixed strides cost a third more); no out=, which
        # vmap (a group of runs) cannot take
        self.grads["weight"] = self.mask * dw
        return None if da is None else self.unpad(da)

    def bias_sum(self, dy: torch.Tensor) -> torch.Tensor:
        """``dy`` summed the way the bias is shared: over examples and positions (one per
        channel) or over examples only (one per unit)."""
        return dy.sum((0, 2, 3)) if self.bias_mode == "channel" else dy.sum(0)

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        n, c_out, hout, wout = d2y.shape
        d = d2y.transpose(0, 1).reshape(c_out, -1)
        fields = self.columns()
        w = self._weight()
        self.hess = {"weight": (d @ (fields * fields).T).view_as(w) * self.mask}
        if self.bias_mode is not None:
            self.hess["bias"] = self.bias_sum(d2y)
        return self.unpad(self.back_to_input(d, w * w, n, hout, wout))

    def counts(self, x: torch.Tensor, y: torch.Tensor) -> Counts:
        fan_in = self.fan_in()
        bias = self.params.get("bias")
        params = int(fan_in.sum()) + (bias.numel() if bias is not None else 0)
        per_map = y.shape[2] * y.shape[3]
        connections = per_map * int((fan_in + (1 if bias is not None else 0)).sum())
        return Counts(y.numel(), params, connections)

    def unpad(self, da: torch.Tensor) -> torch.Tensor:
        """The padded input's gradient cut back to the input's own positions."""
        ph, pw = self.padding
        _, _, h, w = self.x_shape
        return da[:, :, ph : ph + h, pw : pw + w]

    # -- readable version: one output position at a time ------------------------------------
    def _window(self, p: int, q: int) -> tuple[slice, slice]:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return slice(sh * p, sh * p + kh), slice(sw * q, sw * q + kw)

    def _forward_loop(self) -> torch.Tensor:
        a, w = self.a, self._weight()
        n = a.shape[0]
        hout, wout = self.output_size(self.x_shape[2:])
        y = a.new_zeros(n, self.out_channels, hout, wout)
        for p in range(hout):
            for q in range(wout):
                rows, cols = self._window(p, q)
                field = a[:, :, rows, cols]  # N×C×kh×kw receptive field
                y[:, :, p, q] = torch.einsum("nckl,ockl->no", field, w)  # Σ w a
        return y

    def _backward_loop(self, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, w = self.a, self._weight()
        dw = torch.zeros_like(w)
        da = torch.zeros_like(a) if self.needs_input_grad else None
        for p in range(dy.shape[2]):
            for q in range(dy.shape[3]):
                rows, cols = self._window(p, q)
                d = dy[:, :, p, q]  # N×C_out
                dw += torch.einsum("no,nckl->ockl", d, a[:, :, rows, cols])
                if da is not None:
                    da[:, :, rows, cols] += torch.einsum("no,ockl->nckl", d, w)
        return dw, da

    # -- on the framework's kernels: the sums written as convolutions --------------------------
    def _forward_conv(self) -> torch.Tensor:
        return F.conv2d(self.a, self._weight(), stride=self.stride)  # Σ w a, correlated

    def _backward_conv(self, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The two backward sums, each one call of the framework's *forward* convolution ops
        (no derivative kernel): ``dw_{o,c,k,l} = Σ_{n,p,q} dy_{n,o,p,q} a_{n,c,s·p+k,s·q+l}`` is
        the correlation of the input with ``dy`` (examples as the summed channels, ``dy`` as the
        kernel, spread by the stride), and ``dx`` is the transposed convolution of ``dy`` with the
        weights — the lecture's Δ_j = g'(in_j) Σ_k w_jk Δ_k for shared weights: each input collects
        w·dy from every output whose field held it."""
        return self.correlate_input(dy), self.transposed(dy) if self.needs_input_grad else None

    def correlate_input(self, dy: torch.Tensor) -> torch.Tensor:
        """``dw`` as ``F.conv2d`` of the input (C_in×N×H×W, examples as channels) with ``dy``
        (C_out×N×H′×W′ as the kernel, dilated by the stride); where the stride leaves the last
        rows or columns unread the result is larger than kh×kw and is cut back to it."""
        kh, kw = self.kernel_size
        dw = F.conv2d(self.a.transpose(0, 1), dy.transpose(0, 1), dilation=self.stride)
        return dw[:, :, :kh, :kw].transpose(0, 1)

    def transposed(self, dy: torch.Tensor) -> torch.Tensor:
        """``dx`` on the padded input as ``F.conv_transpose2d(dy, w)``; ``output_padding`` gives
        back the rows and columns a stride left unread (they receive nothing)."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        h, w = self.a.shape[2:]
        unread = (h - (sh * (dy.shape[2] - 1) + kh), w - (sw * (dy.shape[3] - 1) + kw))
        return F.conv_transpose2d(dy, self._weight(), stride=self.stride, output_padding=unread)

    # -- fast version: im2col -----------------------------------------------------------------
    # Receptive fields are laid out as columns, (C·kh·kw)×(N·L) with L = H′·W′ positions, so the
    # forward sum and both backward sums are each one matrix product.
    def columns(self) -> torch.Tensor:
        """The padded input's receptive fields as columns, (C·kh·kw)×(N·L)."""
        n = self.a.shape[0]
        hout, wout = self.output_size(self.x_shape[2:])
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        # a view N×C×H′×W′×kh×kw of every receptive field, then one copy into columns
        fields = self.a.unfold(2, kh, sh).unfold(3, kw, sw)
        return fields.permute(1, 4, 5, 0, 2, 3).reshape(-1, n * hout * wout)

    def _forward_unfold(self) -> torch.Tensor:
        n = self.a.shape[0]
        hout, wout = self.output_size(self.x_shape[2:])
        self.fields = self.columns()
        y = self._weight().reshape(self.out_channels, -1) @ self.fields  # C_out×(N·L)
        return y.view(self.out_channels, n, hout, wout).transpose(0, 1)

    def _backward_unfold(self, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, _, hout, wout = dy.shape
        d = dy.transpose(0, 1).reshape(self.out_channels, -1)  # C_out×(N·L)
        assert self.fields is not None  # im2col's forward kept them
        dw = (d @ self.fields.T).view_as(self.params["weight"])
        if not self.needs_input_grad:
            return dw, None
        return dw, self.back_to_input(d, self._weight(), n, hout, wout)

    def back_to_input(
        self, d: torch.Tensor, w: torch.Tensor, n: int, hout: int, wout: int
    ) -> torch.Tensor:
        """``Σ_o w_{o,c,k,l} d_o`` sent back to the padded input positions each field read:
        ``d`` is C_out×(N·L), ``w`` C_out×C×kh×kw; returns N×C×H_pad×W_pad (the gradient's
        col2im; the curvature pass calls it with w² and ∂²E/∂y²)."""
        w = w.reshape(self.out_channels, -1)
        on_cpu = d.device.type == "cpu"
        if not on_cpu or n * hout * wout * w.shape[1] < self.col2im_taps_from:
            # col2im in one call: every field's share goes back to the input positions it read
            dfields = (d.T @ w).view(n, hout * wout, -1).transpose(1, 2)  # N×(C·kh·kw)×L
            return F.fold(dfields, self.a.shape[2:], self.kernel_size, stride=self.stride)
        return self._col2im_by_taps(w.T @ d, n, hout, wout)

    def _col2im_by_taps(self, dfields: torch.Tensor, n: int, hout: int, wout: int) -> torch.Tensor:
        """col2im for large batches, where ``F.fold`` is slow on the CPU: ``dfields`` is
        (C·kh·kw)×(N·L); tap (k, l) of output (p, q) read input (sh·p + k, sw·q + l), so each tap's
        share goes back to the window it read, one strided add per tap (overlaps add up). Built
        channel-first, where each tap's share is one contiguous block; returned N×C×H×W."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        c = self.a.shape[1]
        dfields = dfields.view(c, kh, kw, n, hout, wout)
        da = dfields.new_zeros(c, n, *self.a.shape[2:])
        for k in range(kh):
            for l in range(kw):
                rows = slice(k, k + sh * (hout - 1) + 1, sh)
                cols = slice(l, l + sw * (wout - 1) + 1, sw)
                da[:, :, rows, cols] += dfields[:, k, l]
        return da.transpose(0, 1)
