"""Training health per layer, as the lecture names what a layer computes: its outputs ``a_j``, how
many of its units are saturated (a squashing unit near its bounds, where g' ≈ 0) or dead (a ReLU
zero for every example), the size of its ``Δ_j = ∂E/∂in_j`` (the gradient at its weighted sums),
and for each parameter the size of an update against the size of the weights,
``log10(‖Δw‖ / ‖w‖)`` (about −3 is the usual healthy figure).

``probe`` measures one batch with the run's current weights, in a pass of its own, layer by layer
in both implementations (the manual layers' ``forward``/``backward``; the autograd twins' modules
and ``torch.autograd.grad``). It changes nothing of the run: no gradient, no weight, no draw of
a generator is left behind (the dropout generators' states are put back), so a run with health
logging ends with the same weights, bit for bit, as one without (tested)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from lecnn.models.spec import ModelSpec
from lecnn.training.engine import Engine

#: a squashing unit within 3% of its bounds counts as saturated: (kind → its bounds)
SQUASHING = {"scaled_tanh": (-1.7159, 1.7159), "tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
RECTIFIERS = ("relu",)
NEAR = 0.03  # of the range


@dataclass(frozen=True)
class Watched:
    """A layer the papers name (C1, S2, …, F6): its index in the network, the index whose output
    is the layer's activation (its squashing function's, when one follows), and that function."""

    name: str
    index: int
    out_index: int
    unit: str  # "scaled_tanh", "tanh", "sigmoid", "relu" or "" (no squashing: RBF, pooling)


def watched(spec: ModelSpec) -> list[Watched]:
    """The named layers of ``spec``, each with the activation that follows it."""
    out = []
    for i, layer in enumerate(spec.layers):
        if not layer.name:
            continue
        after = spec.layers[i + 1].kind if i + 1 < len(spec.layers) else ""
        unit = after if after in SQUASHING or after in RECTIFIERS else ""
        out.append(Watched(layer.name, i, i + 1 if unit else i, unit))
    return out


def activation_stats(a: torch.Tensor, unit: str) -> dict[str, float]:
    """Mean and standard deviation of a layer's outputs (N×…), and the fraction of its units
    saturated (squashing: within ``NEAR`` of its range's bounds) or dead (ReLU: zero for every
    example of the batch)."""
    a = a.detach().double()
    stats = {"mean": float(a.mean()), "std": float(a.std(unbiased=False))}
    if unit in SQUASHING:
        low, high = SQUASHING[unit]
        margin = NEAR * max(abs(low), abs(high))  # |tanh| > 0.97; a sigmoid under .03 or over .97
        stats["saturated"] = float(((a < low + margin) | (a > high - margin)).double().mean())
    if unit in RECTIFIERS:
        stats["dead"] = float((a.flatten(1) <= 0).all(dim=0).double().mean())
    return stats


def rms(t: torch.Tensor) -> float:
    """The root mean square of ``t``: a unit's typical size, comparable across layers."""
    return float(t.detach().double().pow(2).mean().sqrt())


def probe(engine: Engine, x: torch.Tensor, target: torch.Tensor) -> dict[str, dict[str, float]]:
    """Each named layer's health on the batch ``x`` (its ``target``s), with the current weights:
    {name: {mean, std, saturated | dead, delta_rms}}."""
    layers = watched(engine.spec)
    generators = [(g, g.get_state()) for g in _generators(engine)]
    try:
        if engine.impl == "manual":
            outs, deltas = _manual_pass(engine, x, target, layers)
        else:
            outs, deltas = _autograd_pass(engine, x, target, layers)
    finally:
        for g, state in generators:
            g.set_state(state)  # the run's dropout masks are drawn as if no probe had run
    return {
        w.name: activation_stats(outs[w.out_index], w.unit) | {"delta_rms": rms(deltas[w.index])}
        for w in layers
    }


def _generators(engine: Engine) -> list[torch.Generator]:
    found = [getattr(layer, "generator", None) for layer in engine.random_layers()]
    return [g for g in found if g is not None]


@torch.no_grad()
def _manual_pass(engine: Engine, x, target, layers: list[Watched]) -> tuple[dict, dict]:
    """Forward through the hand-written layers one by one, keeping each output; the loss's
    ``backward``; then back through them, keeping each layer's ``dy`` — the Δ of the layer whose
    output it is. The gradients the run holds are put back."""
    net, keep = engine.manual_net(), {w.index for w in layers} | {w.out_index for w in layers}
    held = [dict(layer.grads) for layer in net.layers]
    outs, deltas = {}, {}
    a = engine.laid_out(x)
    for i, layer in enumerate(net.layers):
        a = layer.forward(a)
        if i in keep:
            outs[i] = a
    engine.loss.forward(a, target)
    dy = engine.loss.backward()
    lowest = min(w.index for w in layers)
    for i in range(len(net.layers) - 1, lowest - 1, -1):
        deltas[i] = dy  # ∂E/∂(output of layer i)
        if i > lowest:
            dy = net.layers[i].backward(dy)
    for layer, grads in zip(net.layers, held, strict=True):
        layer.grads.clear()  # in place: whatever holds the dict sees the run's gradients again
        layer.grads.update(grads)
    return outs, deltas


def _autograd_pass(engine: Engine, x, target, layers: list[Watched]) -> tuple[dict, dict]:
    """The twins' modules one by one, each output kept; ``torch.autograd.grad`` of the loss with
    respect to the named layers' outputs (no parameter's ``.grad`` is touched)."""
    outs: dict[int, torch.Tensor] = {}
    a = engine.laid_out(x)
    for i, module in enumerate(engine.net):
        a = module(a)
        outs[i] = a
    loss = engine.loss(a, target)
    indices = [w.index for w in layers]
    grads = torch.autograd.grad(loss, [outs[i] for i in indices])
    return outs, dict(zip(indices, grads, strict=True))


def update_ratios(
    before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], updates: int, names
) -> dict[str, float]:
    """``log10(‖Δw‖ / ‖w‖)`` per parameter for the mean update of the ``updates`` taken between
    ``before`` and ``after`` (−inf: it did not move), keyed by the layers' paper names."""
    out = {}
    for key, w in after.items():
        step = float((w.double() - before[key].double()).norm()) / updates
        size = float(w.double().norm())
        out[names(key)] = math.log10(step / size) if step > 0 and size > 0 else -math.inf
    return out


def snapshot(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights as they are, to measure the next update against."""
    return {k: v.detach().clone() for k, v in params.items()}


def record(step: int, epoch: int, layers: dict[str, Any], updates: dict[str, float]) -> dict:
    """One line of a run's health record (``RUN/health.jsonl``)."""
    return {"step": step, "epoch": epoch, "layers": layers, "updates": updates}
