"""The whole update as one program: forward, loss, backward and the optimizer's step, ``per_call``
updates at a time, built from the same code eager training runs (``Engine.step_grads`` and
``Optimizer.update``), never a hand-fused copy of it.

- On the CPU the program is compiled by ``torch.compile`` (Inductor, C++ wrapper): a small network's
  update is bound by dispatching its many tiny operations, not by its arithmetic, and one compiled
  call per ``per_call`` updates removes most of that.
- On CUDA the same Python function is captured once in a CUDA graph and replayed: one launch for
  ``per_call`` updates, with the data already on the device.

The rates and update numbers enter as tensors, so a schedule's new rate is new data, not a new
program; random numbers (dropout) come from the run's own generator, lent to torch's default one
for the call (``lent_to_default``), so compiled and eager runs take the same steps (the tests hold
them equal in float64).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import torch

from lecnn.manual.optim import Optimizer
from lecnn.training.engine import Engine
from lecnn.training.updaters import Chunk, EagerUpdate, Took, Updater


def _not_cuda_home_guess(record: logging.LogRecord) -> bool:
    """Compiling for the CPU on a machine with a CUDA toolkit but no GPU, torch's C++ builder
    warns "No CUDA runtime is found, using CUDA_HOME=..." on stderr: a stray line, nothing to act
    on, in the middle of a run's output. That one message is dropped; the logger's others stay."""
    return not str(record.msg).startswith("No CUDA runtime is found")


logging.getLogger("torch.utils.cpp_extension").addFilter(_not_cuda_home_guess)

#: updates per compiled call: per-example updates share one call's fixed cost (measured in
#: scripts/bench_train.py); so do batched CUDA updates (``updates_per_call``)
PER_CALL = {"cpu": 8, "cuda": 32}
#: at most this many examples in one CUDA graph's chunk of batches (its activations stay alive)
CHUNK_EXAMPLES = 16_384
#: below this many updates in a run, compiling costs more than it saves (``--compile auto``):
#: per-example CPU runs save 100-600 µs an update against 10-60 s of compilation
PAYS_AFTER = {"cpu": 100_000, "cuda": 2_000}


def use_compiled(choice: str, device: torch.device, batch_size: int, updates: int) -> bool:
    """``--compile on|off|auto``; auto compiles where it measurably pays: per-example updates on
    the CPU (batched ones run on oneDNN's kernels already, and compile slower) and any long CUDA
    run, each only when the run is long enough to pay back the compilation."""
    if choice in ("on", "off"):
        return choice == "on"
    kind = device.type if device.type in PAYS_AFTER else None
    if kind is None or (kind == "cpu" and batch_size > 1):
        return False
    return updates >= PAYS_AFTER[kind]


def updates_per_call(device: torch.device, batch_size: int) -> int:
    """Updates one compiled call takes. Per example: ``PER_CALL``. Batched on CUDA: a chunk of
    the pass as one graph launch (the host launches a graph, not each kernel, and never waits
    inside it), up to ``CHUNK_EXAMPLES`` examples. Batched on the CPU: one, as the kernels'
    arithmetic, not their launches, is what a batch costs there."""
    kind = "cuda" if device.type == "cuda" else "cpu"
    if batch_size == 1:
        return PER_CALL[kind]
    if kind == "cuda":
        return max(1, min(PER_CALL["cuda"], CHUNK_EXAMPLES // batch_size))
    return 1


class CompiledUpdate:
    """``per_call`` consecutive updates of ``engine`` with ``optimizer`` as one compiled call.

    ``__call__(xs, ts, lrs)``: ``xs``/``ts`` hold ``per_call`` batches stacked (per_call × batch ×
    ...), ``lrs`` their rates; returns each update's loss (per_call) and outputs (per_call ×
    batch × classes). The optimizer's ``steps`` advance by ``per_call`` and its ``lr`` ends at
    the last rate, as after the same eager updates.
    """

    def __init__(
        self, engine: Engine, optimizer: Optimizer, per_call: int, device: torch.device
    ) -> None:
        self.engine, self.optimizer, self.per_call = engine, optimizer, per_call
        self._program: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None
        self._graph: _Graph | None = None
        # the backend, chosen once: a CUDA graph on CUDA, torch.compile on the CPU
        self._backend = self._cuda if device.type == "cuda" else self._cpu

    def _updates(
        self, xs: torch.Tensor, ts: torch.Tensor, lrs: torch.Tensor, steps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The eager code, ``per_call`` times: what gets compiled or captured."""
        losses, outs = [], []
        params = self.engine.params()
        for i in range(self.per_call):
            loss, out, grads = self.engine.step_grads(xs[i], ts[i])
            self.optimizer.update(params, grads, lrs[i], steps[i])
            losses.append(loss)
            outs.append(out)
        self.engine.keep_grads(grads)  # readable where eager training leaves them (histograms)
        return torch.stack(losses), torch.stack(outs)

    def __call__(
        self, xs: torch.Tensor, ts: torch.Tensor, lrs: list[float]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        opt = self.optimizer
        dtype = torch.float64 if xs.dtype == torch.float64 else torch.float32
        lr_t = torch.tensor(lrs, dtype=dtype, device=xs.device)
        steps = torch.arange(opt.steps + 1, opt.steps + 1 + self.per_call, device=xs.device)
        steps = steps.to(dtype)
        with lent_to_default(self.engine):
            losses, outs = self._backend(xs, ts, lr_t, steps)
        opt.steps += self.per_call
        opt.lr = lrs[-1]
        return losses, outs

    def _cuda(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self._graph is None:
            self._graph = _Graph(self._updates, args)
        return self._graph(*args)

    def _cpu(self, *args: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # one example per update: oneDNN's convolution costs about 60 µs a call at that size,
        # PyTorch's own im2col kernels about 15 µs (lecun1989's compiled autograd update: 411 →
        # 154 µs); batches keep oneDNN
        with onednn(False) if args[0].shape[1] == 1 else nullcontext():
            if self._program is None:
                # the first call runs eagerly: it creates the optimizer's lazily made state
                # (momentum, Adam's moments), so the compiled program meets a fixed structure and
                # compiles once
                out = self._updates(*args)
                self._program = torch.compile(
                    self._updates,
                    dynamic=False,
                    options={"cpp_wrapper": True, "fallback_random": True},
                )
                return out
            return self._program(*args)


class CompiledUpdater(Updater):
    """A run's updates through ``CompiledUpdate``: whole chunks of ``per_call`` full batches as
    one call, and what does not fill one (a shorter last batch, the pass's remainder) eagerly,
    as the same code it was compiled from."""

    compiled = True

    def __init__(
        self, engine: Engine, optimizer: Optimizer, batch_size: int, n: int, device: torch.device
    ) -> None:
        k = updates_per_call(device, batch_size)
        self.program = CompiledUpdate(engine, optimizer, k, device)
        self.eager = EagerUpdate(engine, optimizer)
        self.batch_size, self.full = batch_size, n // batch_size  # batches of full size

    def per_call(self, batch: int) -> int:
        k = self.program.per_call
        return k if batch + k <= self.full else 1

    def __call__(self, chunk: Chunk) -> Took:
        bs, k = self.batch_size, chunk.k
        if k != self.program.per_call or len(chunk.y) < k * bs:
            return self.eager(chunk)
        losses, outs = self.program(
            chunk.x.view(k, bs, *chunk.x.shape[1:]), chunk.t.view(k, bs, *chunk.t.shape[1:]),
            chunk.lrs,
        )  # fmt: skip
        total = self.program.engine.spec.loss_total(losses, bs).sum(dtype=torch.float64)
        return Took(losses.unbind(), outs.flatten(0, 1), total)  # each update's loss, as eagerly


@contextmanager
def onednn(enabled: bool) -> Iterator[None]:
    """oneDNN's kernels on or off for the length of the block, then as they were (torch's own
    ``mkldnn.flags()`` context would also reset the TF32 setting)."""
    before = torch.backends.mkldnn.enabled
    # torch's stubs type the flag as its descriptor; assigning a bool is how torch sets it
    torch.backends.mkldnn.enabled = enabled  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def _default_generator(device: torch.device) -> torch.Generator:
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.default_generators[index]
    return torch.default_generator


@contextmanager
def lent_to_default(engine: Engine) -> Iterator[None]:
    """The run's dropout generator lent to torch's default one for the block: a compiled program
    cannot take a generator object (Dynamo breaks the graph there) and a CUDA graph replays the
    default generator, so the program draws from the default one, holding the run's state; after
    the block the run's generator has moved on exactly as in eager training and the default one
    is back where it was."""
    layers = engine.random_layers()
    run = layers[0].generator if layers else None
    if run is None:
        yield
        return
    default = _default_generator(run.device)
    saved = default.get_state()
    default.set_state(run.get_state())
    engine.use_generator(None)
    try:
        yield
    finally:
        run.set_state(default.get_state())
        default.set_state(saved)
        engine.use_generator(run)


class _Graph:
    """``fn`` captured in a CUDA graph on its first inputs; each call copies new inputs into the
    captured ones and replays it. One eager warm-up call on a side stream first, as CUDA graph
    capture requires (it creates lazily built state: cuBLAS/cuDNN handles, the optimizer's
    moments); it is a real update, so its results answer the first call."""

    def __init__(self, fn: Callable[..., tuple[torch.Tensor, ...]], args: tuple) -> None:
        self.inputs = [a.clone() for a in args]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            self.warm = [fn(*args)]  # the first call's own results, returned by its replay
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = fn(*self.inputs)
        self._pending = True

    def __call__(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self._pending:  # the first call was run while warming up
            self._pending = False
            return tuple(o.clone() for o in self.warm.pop())
        for dst, src in zip(self.inputs, args):
            dst.copy_(src)
        self.graph.replay()
        return tuple(o.clone() for o in self.outputs)
