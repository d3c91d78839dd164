"""One interface over the two implementations, so the training loop is the same code for both:
``train_step`` computes the loss and fills the gradients, the optimizer reads ``params``/``grads``."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lecnn import manual as M
from lecnn import nn as lnn
from lecnn.manual.hessian import diagonal_hessian
from lecnn.models import ModelSpec, build, build_loss
from lecnn.training.distributed import ONE_PROCESS, Ranks, sum_hook


def encode_targets(labels: torch.Tensor, kind: str, dtype: torch.dtype) -> torch.Tensor:
    """Labels → what the loss compares against: indices, 0/1 one-hot, or ±1 one-hot."""
    if kind == "index":
        return labels
    onehot = F.one_hot(labels, 10).to(dtype)
    return onehot if kind == "onehot01" else onehot * 2 - 1


def lay_out(x: torch.Tensor, layout: torch.memory_format) -> torch.Tensor:
    """``x`` (N×C×H×W) in ``layout``. One channel's maps lie the same in either layout, and only
    the strides tell the kernels which one to give their outputs: those are set, nothing moves."""
    if layout != torch.channels_last or x.dim() != 4:
        return x
    if x.shape[1] == 1:
        _, _, h, w = x.shape
        return x.contiguous().as_strided(x.shape, (h * w, 1, w, 1))
    return x.contiguous(memory_format=torch.channels_last)


def use_channels_last(
    choice: str, device: torch.device, dtype: torch.dtype, batch_size: int, impl: str = "autograd"
) -> bool:
    """``--memory-format channels-last|contiguous|auto``; auto takes channels-last where it
    measurably pays (runs/bench/bench_train-lenet5-modern-layouts-cpu.txt): autograd's batched
    float32 updates on the CPU. The manual layers' backward, written with forward convolutions,
    runs faster contiguous (its correlations read transposed maps, which channels-last makes
    copies of); per-example updates, float64 (no oneDNN kernels) and CUDA (not measured) stay
    contiguous."""
    if choice != "auto":
        return choice == "channels-last"
    batched = device.type == "cpu" and dtype == torch.float32 and batch_size > 1
    return batched and impl == "autograd"


class Engine:
    """A network, its loss and its gradients, for one implementation."""

    impl = ""

    def __init__(self, spec: ModelSpec, net: Any, loss: Any) -> None:
        self.spec, self.net, self.loss = spec, net, loss
        self.ranks: Ranks = ONE_PROCESS  # the processes sharing each batch
        self.layout = torch.contiguous_format  # of the inputs and convolution weights

    @property
    def loss_averages(self) -> bool:
        """Whether the loss is a mean over the batch (else a sum: LeNet-1 and LeNet-4)."""
        return not self.spec.sums_examples

    def distribute(self, ranks: Ranks) -> None:
        """From now on ``train_step`` leaves the global batch's gradients on every rank."""
        self.ranks = ranks

    def random_layers(self) -> list:
        """The layers that draw random numbers while training (dropout)."""
        raise NotImplementedError

    def use_generator(self, generator: torch.Generator | None) -> None:
        """Draw every dropout mask from ``generator`` (the run's own; None: torch's default)."""
        for layer in self.random_layers():
            layer.generator = generator

    def params(self) -> dict[str, torch.Tensor]:
        """The parameters by state-dict name (the tensors the optimizer updates in place)."""
        raise NotImplementedError

    def grads(self) -> dict[str, torch.Tensor]:
        """The last update's gradients, by the same names."""
        raise NotImplementedError

    def train_step(
        self, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward and backward on one batch; returns (loss, outputs), both detached."""
        raise NotImplementedError

    def step_grads(
        self, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``train_step`` as a function: (loss, outputs, gradients), for a compiled update
        (``lecnn.training.compiled``), where nothing may leave the program half-done."""
        raise NotImplementedError

    def grads_at(
        self, params: dict[str, torch.Tensor], x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """The gradient step as a function of the parameters: (loss, outputs, gradients) of the
        network with ``params`` in place of its own, which it leaves untouched; what a group of
        runs maps over its runs' stacked parameters (``lecnn.training.group``)."""
        raise NotImplementedError

    def keep_grads(self, grads: dict[str, torch.Tensor]) -> None:
        """Leave ``grads`` (from ``step_grads``) where ``grads()`` reads them."""

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Network outputs without gradients (evaluation)."""
        raise NotImplementedError

    def loss_value(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss of ``out`` against ``target``, without gradients."""
        raise NotImplementedError

    def predict(self, out: torch.Tensor) -> torch.Tensor:
        """The predicted class per example: the largest output, or the smallest penalty (RBF)."""
        return out.argmin(1) if self.spec.predict_min else out.argmax(1)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the network's state; it loads into either implementation."""
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load a state from either implementation."""
        self.net.load_state_dict(state)

    def train(self, mode: bool = True) -> None:
        """Training mode (dropout on) or evaluation mode."""
        raise NotImplementedError

    def channels_last(self) -> None:
        """Lay the convolution weights and every input out channels-last (N×H×W×C in memory),
        so each layer's maps lie so too: the layout oneDNN's CPU kernels are fastest on
        (scripts/bench_cpu_batched.py). Values, names and state dicts are unchanged."""
        self.layout = torch.channels_last
        self.net.to(memory_format=torch.channels_last)

    @property
    def is_channels_last(self) -> bool:
        """Whether ``channels_last`` laid the network out (run summaries say so)."""
        return self.layout == torch.channels_last

    def laid_out(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the engine's layout (a copy only where its elements must move)."""
        return lay_out(x, self.layout)

    def manual_net(self) -> M.Sequential:
        """The network as hand-written layers (the curvature pass needs them)."""
        raise NotImplementedError

    def curvature(self, x: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Gauss–Newton estimates of ∂²E/∂w² on (x, target), from the hand-written second-
        derivative pass, in evaluation mode (no dropout)."""
        self.train(False)
        try:
            net, loss = self.manual_net(), build_loss(self.spec, "manual")
            return diagonal_hessian(net, loss, x, target, per_example=True)
        finally:
            self.train(True)


class ManualEngine(Engine):
    impl = "manual"

    def __init__(self, spec: ModelSpec, net: M.Sequential, loss: M.Loss) -> None:
        super().__init__(spec, net, loss)
        net.needs_input_grad = False  # nothing consumes dx of the first layer
        self._params = net.named_params()

    def params(self) -> dict[str, torch.Tensor]:
        return self._params

    def grads(self) -> dict[str, torch.Tensor]:
        return self.net.named_grads()

    @torch.no_grad()
    def train_step(
        self, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net.forward(self.laid_out(x))
        value = self.loss.forward(out, target)
        self.net.backward(self.loss.backward())
        if self.ranks.parallel:  # Σ over the ranks' shares: the global batch's gradient
            self.ranks.sum_grads(self.net.named_grads(), self.loss_averages)
        return value, out

    def step_grads(
        self, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        value, out = self.train_step(x, target)
        return value, out, self.net.named_grads()

    def grads_at(
        self, params: dict[str, torch.Tensor], x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        return M.functional_grads(self.net, self.loss, params, x, target)

    @torch.no_grad()
    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward(self.laid_out(x))

    @torch.no_grad()
    def loss_value(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss.forward(out, target)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(state)
        self._params = self.net.named_params()

    def manual_net(self) -> M.Sequential:
        return self.net

    def train(self, mode: bool = True) -> None:
        self.net.train(mode)

    def channels_last(self) -> None:
        super().channels_last()
        self._params = self.net.named_params()  # the layers hold new tensors

    def random_layers(self) -> list:
        return [layer for layer in self.net.walk() if isinstance(layer, M.Dropout)]


class AutogradEngine(Engine):
    impl = "autograd"

    def __init__(self, spec: ModelSpec, net: torch.nn.Module, loss: torch.nn.Module) -> None:
        super().__init__(spec, net, loss)
        self._params = dict(net.named_parameters())
        self._forward = net  # DistributedDataParallel(net) once distributed

    def distribute(self, ranks: Ranks) -> None:
        """Wrap the network in ``DistributedDataParallel``, whose backward averages the ranks'
        gradients (or sums them, with ``sum_hook``, for a loss that sums over the batch)."""
        super().distribute(ranks)
        cuda = next(iter(self._params.values())).device.type == "cuda"
        ids = [ranks.local_rank] if cuda else None
        self._forward = torch.nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        if not self.loss_averages:
            self._forward.register_comm_hook(None, sum_hook)

    def params(self) -> dict[str, torch.Tensor]:
        return {k: p.data for k, p in self._params.items()}

    def grads(self) -> dict[str, torch.Tensor]:
        # a parameter without a gradient yet (no update taken) is left out, as logs expect
        return {k: p.grad for k, p in self._params.items() if p.grad is not None}

    def train_step(
        self, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for p in self._params.values():
            p.grad = None
        out = self._forward(self.laid_out(x))
        value = self.loss(out, target)
        value.backward()
        return value.detach(), out.detach()

    def step_grads(
        self, x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """The same loss and gradients through ``torch.func`` (no ``.backward()`` call, which a
        compiled program cannot contain): ``grads_at`` the network's own parameters."""
        params = {k: p.detach() for k, p in self._params.items()}
        return self.grads_at(params, self.laid_out(x), target)

    def grads_at(
        self, params: dict[str, torch.Tensor], x: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``grad`` of the loss as a function of the parameters (``torch.func``)."""

        def loss_of(p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            out = torch.func.functional_call(self.net, p, (x,))
            return self.loss(out, target), out.detach()

        grads, (value, out) = torch.func.grad_and_value(loss_of, has_aux=True)(params)
        return value.detach(), out, grads

    def keep_grads(self, grads: dict[str, torch.Tensor]) -> None:
        for k, p in self._params.items():
            if p.grad is None:
                p.grad = grads[k].clone()
            else:
                p.grad.copy_(grads[k])

    @torch.no_grad()
    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.laid_out(x))

    @torch.no_grad()
    def loss_value(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(out, target)

    def train(self, mode: bool = True) -> None:
        self.net.train(mode)

    def random_layers(self) -> list:
        return [m for m in self.net.modules() if isinstance(m, lnn.Dropout)]

    def manual_net(self) -> M.Sequential:
        """A manual copy of the current weights (the state dicts interchange)."""
        p = next(iter(self._params.values()))
        # its initial weights are replaced at once: drawn from a generator of its own
        net = build(
            self.spec, "manual", generator=torch.Generator(), device=p.device, dtype=p.dtype
        )
        net.load_state_dict(self.state_dict())
        return net


def make_engine(
    spec: ModelSpec,
    impl: str,
    *,
    seed: int | None,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    dropout: torch.Generator | None = None,
    channels_last: bool = False,
) -> Engine:
    """The network ``spec`` for ``impl``, initialised from ``seed``, its dropout masks drawn
    from ``dropout`` (the run's generator), laid out channels-last if asked."""
    engine: Engine
    if impl == "manual":
        net = build(spec, "manual", seed=seed, device=device, dtype=dtype)
        engine = ManualEngine(spec, net, build_loss(spec, "manual"))
    else:
        twin = build(spec, "autograd", seed=seed, device=device, dtype=dtype)
        engine = AutogradEngine(spec, twin, build_loss(spec, "autograd"))
    engine.use_generator(dropout)
    if channels_last:
        engine.channels_last()
    return engine
