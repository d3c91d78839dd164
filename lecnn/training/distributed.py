"""Data-parallel training with ``torch.distributed``, launched by ``torchrun`` (Gloo on CPUs, NCCL on
GPUs). Every rank holds the whole model and takes the same optimizer step; each computes the
gradient of its share of every global batch, and the shares are summed.

That sum is the lecture's point made concrete: the gradient of a batch is the sum of its
examples' gradients, ``∂E/∂w = Σ_n ∂E_n/∂w = Σ_r Σ_{n ∈ share r} ∂E_n/∂w``, wherever each term
was computed. With a loss that averages over the batch (``E = (1/B) Σ_n E_n``, B the global
batch, each of the R ranks holding B/R examples and averaging over them), the global gradient is
the mean of the ranks' gradients: ``∂E/∂w = (1/R) Σ_r ∂E_r/∂w``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from lecnn.errors import LecnnError


class Ranks:
    """The ranks (processes) one run is spread over, as the training loop asks them: this rank's
    share of a batch and of a split, sums and gathers over all of them, a common stop. This base
    is one process alone (``ONE_PROCESS``): every share is everything and every sum is the value
    itself, so the loop is the same code with or without torchrun. ("Group" in lecnn means runs
    trained together, ``lecnn.training.grouped``; ranks are one run's processes.)"""

    rank = 0
    world = 1
    local_rank = 0

    @property
    def parallel(self) -> bool:
        """Whether more than one process shares the run."""
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes TensorBoard, results and checkpoints."""
        return self.rank == 0

    def share(self, *batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """This process's rows of each tensor of a global batch (equal shares)."""
        return batch

    def shard(self, n: int) -> slice:
        """This process's contiguous part of ``n`` items (sizes differ by at most one)."""
        return slice(0, n)

    def total(self, *values: torch.Tensor | float | int, device: torch.device) -> list[float]:
        """Sums over the processes of a few numbers (counts, loss sums), in float64."""
        return [float(v) for v in values]

    def gather(self, t: torch.Tensor, n: int) -> torch.Tensor:
        """The processes' shards (``shard``) of a length-``n`` tensor, in rank order."""
        return t

    def broadcast(self, text: str) -> str:
        """Rank 0's ``text``, on every process."""
        return text

    def agree(self, want: bool, *, at_check: bool, device: torch.device) -> bool:
        """Whether to stop now: as soon as this process wants to alone; together, at a check
        (where every process arrives at the same update) when any of them wants to."""
        return bool(want)

    def sum_grads(self, grads: dict[str, torch.Tensor], mean: bool) -> None:
        """In place: each process's gradients become the global batch's."""

    def barrier(self) -> None:
        """Wait until every process arrives here (so none leaves the job while another still
        talks to it: Gloo can abort a process whose peer has gone)."""


ONE_PROCESS = Ranks()


@dataclass(frozen=True)
class TorchrunRanks(Ranks):
    """This process's place in a torchrun job: rank ``rank`` of ``world``."""

    rank: int
    world: int
    local_rank: int

    def share(self, *batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        per = len(batch[0]) // self.world
        rows = slice(self.rank * per, (self.rank + 1) * per)
        return tuple(t[rows] for t in batch)

    def shard(self, n: int) -> slice:
        return slice(self.rank * n // self.world, (self.rank + 1) * n // self.world)

    def total(self, *values: torch.Tensor | float | int, device: torch.device) -> list[float]:
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, t: torch.Tensor, n: int) -> torch.Tensor:
        size = -(-n // self.world)
        padded = torch.zeros(size, *t.shape[1:], dtype=t.dtype, device=t.device)
        padded[: len(t)] = t
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        sizes = [(r + 1) * n // self.world - r * n // self.world for r in range(self.world)]
        return torch.cat([p[:s] for p, s in zip(parts, sizes)])

    def broadcast(self, text: str) -> str:
        box = [text]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, want: bool, *, at_check: bool, device: torch.device) -> bool:
        # Ctrl-C reaches the ranks at different updates: vote only where all of them are
        return at_check and self.total(float(bool(want)), device=device)[0] > 0

    def barrier(self) -> None:
        dist.barrier()

    def sum_grads(self, grads: dict[str, torch.Tensor], mean: bool) -> None:
        """``Σ_r`` over the ranks (÷ R for a mean loss): what the manual implementation does
        after its backward pass."""
        for g in grads.values():
            dist.all_reduce(g)
            if mean:
                g.div_(self.world)


def launched() -> bool:
    """Whether this process is one of several started by torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join(device: torch.device) -> TorchrunRanks:
    """Join the torchrun job (once per process): Gloo for the CPU, NCCL for CUDA."""
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return TorchrunRanks(
        dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    )


def leave() -> None:
    """Leave the torchrun job, if this process joined one. Destroying the process group stops
    its Gloo/NCCL threads while the interpreter is still whole; left to interpreter shutdown, a
    still-running thread can abort the process after its work is done ("terminate called without
    an active exception")."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def check_split(batch_size: int, n: int, world: int, compile_: str) -> None:
    """Every global batch (the last, shorter one too) must split into equal shares, one per
    process; compiled updates are single-process."""
    if batch_size == 1:
        raise LecnnError(
            f"--batch-size 1 (per-example updates) cannot be split over {world} processes: "
            "run per-example protocols without torchrun (or with --nproc-per-node 1)"
        )
    if batch_size % world:
        raise LecnnError(
            f"--batch-size {batch_size} does not split into {world} equal shares: "
            f"give a multiple of {world}"
        )
    if n % batch_size % world:
        raise LecnnError(
            f"the last batch of the {n} training digits ({n % batch_size}) does not split into "
            f"{world} equal shares: choose --batch-size or --limit so that it does"
        )
    if compile_ == "on":
        raise LecnnError(
            "--compile on: compiled updates run in one process; leave --compile out under torchrun"
        )


def sum_hook(state: object, bucket: Any) -> Any:
    """A DDP communication hook that sums the ranks' gradients without dividing (for a loss that
    sums over the batch, where DDP's own averaging would be wrong by a factor R)."""
    work = dist.all_reduce(bucket.buffer(), async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
