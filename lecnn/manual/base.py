"""The manual-layer protocol and ``Sequential``.

Sign convention. The lecture writes deltas as Δ = −∂Loss/∂in (so that Err = y − a and the update
is ``w_ij ← w_ij + α a_i Δ_j``). In code every backward pass carries the plain gradient
``d<name> = ∂Loss/∂<name>`` (``dx`` for the input, ``dy`` from above), the convention of PyTorch,
so ``dy`` at a unit's input is −Δ and the update ``w ← w − α dw`` is the lecture's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch


@dataclass(frozen=True)
class Counts:
    """Units, free parameters and connections, as LeCun's papers count them."""

    units: int = 0
    parameters: int = 0
    connections: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.units + other.units,
            self.parameters + other.parameters,
            self.connections + other.connections,
        )

    def __str__(self) -> str:
        return (
            f"{self.units:,} units, {self.parameters:,} trainable parameters, "
            f"{self.connections:,} connections"
        )


#: every layer class by its spec name (``kind``): a layer registers itself by naming its kind
LAYERS: dict[str, type[Layer]] = {}


def moved(
    t: torch.Tensor,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
    memory_format: torch.memory_format | None = None,
) -> torch.Tensor:
    """``t`` on ``device``; floating-point tensors in ``dtype``, 4-D ones in ``memory_format``
    (None: each as it is)."""
    layout = memory_format if memory_format is not None and t.dim() == 4 else None
    return t.to(
        device=device,
        dtype=dtype if t.is_floating_point() else None,
        memory_format=layout or torch.preserve_format,
    )


class Layer(ABC):
    """A layer with hand-written forward and backward passes (no autograd).

    ``params`` and ``grads`` are dicts with the same keys; names and shapes follow ``torch.nn`` so
    state dicts interchange with the autograd twins. ``buffers`` holds fixed tensors that belong in
    the state dict but are not trained (e.g. RBF prototypes).

    Everything about a layer lives on it, declared here:

    - ``forward``/``backward``; ``saved``, the names of what ``forward`` keeps for the backward
      passes; ``needs_input_grad``, whether ``backward`` must return dx (a network's first layer
      need not: ``Sequential.backward`` tells it);
    - ``backward_curvature``, the diagonal second-derivative pass SDLM uses, which fills ``hess``
      (same keys as ``params``; empty, as this base leaves it, for a layer without parameters);
    - a layer with parameters derives from ``WeightedLayer``: ``reset_parameters(scheme,
      generator)`` sets its initial weights by a scheme of ``lecnn.manual.init``, every draw from
      ``generator``, and its constructor takes ``generator=`` and initialises it the ``torch`` way;
    - ``counts``, its units, parameters and connections.

    ``forward`` and ``backward`` are abstract: a class missing one cannot be instantiated.

    A subclass that sets ``kind`` is registered in ``LAYERS`` under that name, which is how model
    specs refer to it. ``carried`` names tensor attributes outside the state dict (a connection
    mask) that ``to`` moves with the parameters.
    """

    kind: ClassVar[str] = ""
    saved: tuple[str, ...] = ()  # a class attribute; a layer whose state varies sets its own
    carried: ClassVar[tuple[str, ...]] = ()  # tensor attributes ``to`` moves too
    #: ∂²E/∂w² per parameter, summed over the batch: what ``backward_curvature`` leaves
    hess: dict[str, torch.Tensor]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__ and cls.kind:  # named by the class itself, not inherited
            LAYERS[cls.kind] = cls

    def __init__(self) -> None:
        self.params: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}
        self.buffers: dict[str, torch.Tensor] = {}
        self.hess = {}
        #: whether backward must return dx (the first layer of a network can skip it)
        self.needs_input_grad = True

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``y`` for input ``x``, keeping what ``saved`` names for the passes back."""

    @abstractmethod
    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        """``dx = ∂L/∂x`` from ``dy = ∂L/∂y`` (None when ``needs_input_grad`` is off); fills
        ``grads`` with ``∂L/∂w`` summed over the batch. Call after ``forward`` on the same batch."""

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        """The Gauss–Newton pass (LeCun et al. 1998, Appendix C): ``d2y ≈ ∂²E/∂y²`` per output
        unit in, ``d2x ≈ ∂²E/∂x²`` out, off-diagonal and g'' terms dropped; fills ``self.hess``
        with ``∂²E/∂w²`` summed over the batch. ``dy`` (∂E/∂y) is for layers whose own curvature
        in x is kept (RBF units). Call after a ``forward`` on the same batch."""
        raise NotImplementedError(f"{type(self).__name__} has no curvature pass")

    def reset_parameters(  # noqa: B027 - optional: WeightedLayer makes it abstract
        self, scheme: str, generator: torch.Generator | None = None
    ) -> None:
        """Initial weights by ``scheme``: a layer without parameters has nothing to set
        (``WeightedLayer`` declares it for the layers that have some)."""

    def counts(self, x: torch.Tensor, y: torch.Tensor) -> Counts:
        """This layer's units, free parameters and connections for input ``x`` and output ``y``
        (a layer that computes nothing new, like an activation or Flatten, counts nothing)."""
        return Counts()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def zero_grad(self) -> None:
        """Every gradient set to zeros of its parameter's shape."""
        for k, p in self.params.items():
            self.grads[k] = torch.zeros_like(p)

    def train(self, mode: bool = True) -> None:  # noqa: B027 - optional: only Dropout differs
        """Training or evaluation mode (only layers that differ, like Dropout, care)."""

    def to(
        self,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        memory_format: torch.memory_format | None = None,
    ) -> Layer:
        """Move parameters, gradients and buffers (floating-point ones take ``dtype``; 4-D ones
        ``memory_format``, as ``torch.nn.Module.to`` does)."""
        for d in (self.params, self.grads, self.buffers):
            for k in d:
                d[k] = moved(d[k], device, dtype, memory_format)
        for name in self.carried:
            setattr(self, name, moved(getattr(self, name), device, dtype, memory_format))
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters and buffers by name, as the autograd twin's ``state_dict`` names them."""
        return {**self.params, **self.buffers}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copies of ``state``'s tensors (from either implementation), kept on this layer's
        device and dtype."""
        for d in (self.params, self.buffers):
            for k in d:  # into a new tensor laid out as the old one (channels-last stays so)
                if state[k].shape != d[k].shape:  # copy_ would broadcast a smaller one silently
                    raise RuntimeError(  # as torch.nn.Module.load_state_dict does
                        f"{k}: the state's shape {tuple(state[k].shape)} is not the layer's "
                        f"{tuple(d[k].shape)}"
                    )
                d[k] = torch.empty_like(d[k]).copy_(state[k].detach())
        self._loaded()

    def _loaded(self) -> None:  # noqa: B027 - an optional hook
        """Hook run after new parameters were loaded."""

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


class WeightedLayer(Layer):
    """A layer with trainable parameters. Its constructor takes ``generator=`` (keyword) and
    initialises the weights the ``torch`` way from it; ``reset_parameters`` is abstract, so a
    layer with weights cannot leave out how they start."""

    def __init__(self, *, generator: torch.Generator | None = None) -> None:
        super().__init__()  # the subclass makes its tensors, then calls reset_parameters

    @abstractmethod
    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        """Initial weights by ``scheme`` (``lecnn.manual.init``), every draw from ``generator``
        (torch's default one when None); the gradients zeroed."""


class Sequential(Layer):
    """Layers chained: forward runs them in order, backward in reverse (the lecture's back-propagation
    from the output layer to the input). Parameter names are ``"<index>.<name>"`` as in nn.Sequential.

    Shapes: whatever the first layer takes → whatever the last returns.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        self.layers = list(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each layer's forward, first to last."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        """Each layer's backward, last to first (the first layer returns dx only when this
        network's ``needs_input_grad`` asks for it)."""
        self.layers[0].needs_input_grad = self.needs_input_grad
        d: torch.Tensor | None = dy
        for layer in reversed(self.layers):
            assert d is not None, "only the first layer may skip its dx"
            d = layer.backward(d)
        return d

    def backward_curvature(self, d2y: torch.Tensor, dy: torch.Tensor | None = None) -> torch.Tensor:
        """The second-derivative pass from the output back (``dy`` reaches the last layer only)."""
        for i, layer in enumerate(reversed(self.layers)):
            d2y = layer.backward_curvature(d2y, dy if i == 0 else None)
        return d2y

    def counts(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Counts:
        """The layers' counts summed, running ``x`` forward (the input's units included)."""
        total = Counts(units=x.numel())
        for layer in self.layers:
            out = layer.forward(x)
            total += layer.counts(x, out)
            x = out
        return total

    def reset_parameters(self, scheme: str, generator: torch.Generator | None = None) -> None:
        """Every layer's ``reset_parameters``, first to last (so one generator gives one net)."""
        for layer in self.layers:
            layer.reset_parameters(scheme, generator)

    def walk(self) -> Iterator[Layer]:
        """Every layer that is not a ``Sequential``, nested ones opened, first to last."""
        for layer in self.layers:
            if isinstance(layer, Sequential):
                yield from layer.walk()
            else:
                yield layer

    def named(self, which: str) -> Iterator[tuple[str, torch.Tensor]]:
        """``(name, tensor)`` of every layer's ``which`` dict (``params``, ``grads``, ``hess``),
        named ``"<index>.<key>"`` as ``torch.nn.Sequential`` names them."""
        for i, layer in enumerate(self.layers):
            source = (
                layer.named(which)
                if isinstance(layer, Sequential)
                else getattr(layer, which).items()
            )
            for k, v in source:
                yield f"{i}.{k}", v

    def named_params(self) -> dict[str, torch.Tensor]:
        """Every parameter, by its state-dict name."""
        return dict(self.named("params"))

    def named_grads(self) -> dict[str, torch.Tensor]:
        """Every gradient, by its parameter's state-dict name."""
        return dict(self.named("grads"))

    def zero_grad(self) -> None:
        """Every layer's gradients set to zero."""
        for layer in self.layers:
            layer.zero_grad()

    def train(self, mode: bool = True) -> None:
        for layer in self.layers:
            layer.train(mode)

    def to(
        self,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        memory_format: torch.memory_format | None = None,
    ) -> Sequential:
        for layer in self.layers:
            layer.to(device, dtype, memory_format)
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every layer's state, named ``"<index>.<key>"``."""
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.layers):
            out.update({f"{i}.{k}": v for k, v in layer.state_dict().items()})
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Each layer's share of ``state``; a missing or unexpected name raises ``KeyError``."""
        expected = set(self.state_dict())
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise KeyError(f"state dict mismatch: missing {missing}, unexpected {extra}")
        for i, layer in enumerate(self.layers):
            prefix = f"{i}."
            layer.load_state_dict(
                {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            )

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class Loss(ABC):
    """A loss: ``forward(pred, target) -> scalar``, ``backward() -> dpred`` (∂Loss/∂pred) and
    ``curvature() -> ∂²Loss/∂pred²`` (the diagonal, g''-free part the curvature pass starts from).
    ``forward`` and ``backward`` are abstract."""

    #: True when the loss adds its examples up instead of averaging them
    sums_examples = False

    @abstractmethod
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The loss of ``pred`` against ``target``, a 0-d tensor; keeps what ``backward`` needs."""

    @abstractmethod
    def backward(self) -> torch.Tensor:
        """``dpred = ∂Loss/∂pred`` for the last ``forward``."""

    def curvature(self) -> torch.Tensor:
        """``∂²Loss/∂pred²`` (its diagonal) for the last ``forward``: where the curvature pass
        starts."""
        raise NotImplementedError(f"{type(self).__name__} has no second derivative")

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.forward(pred, target)
