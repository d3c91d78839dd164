"""Training on CUDA: the same run on the GPU and on the CPU (float64) takes the same steps and ends
with the same weights, for each optimizer and both implementations; the command line trains on the GPU
(resume on CUDA: tests/test_training.py). Skipped where CUDA is not present."""

from __future__ import annotations

import json

import pytest
import torch

from lecnn.cli import main
from lecnn.training.config import TrainConfig
from lecnn.training.loop import Trainer, load_data

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not present here")

CASES = {
    # per-example SGD in a fixed order (the 1989 protocol)
    "lecun1989-sgd": dict(model="lecun1989", limit=200),
    # SDLM with its curvature pass, one example per update (the 1998 protocol)
    "lenet5-sdlm": dict(
        model="lenet5", limit=200, batch_size=1, optimizer="sdlm", lr=5e-4, schedule="constant"
    ),
    # Adam on batches
    "lenet5-modern-adam": dict(model="lenet5-modern", limit=512, batch_size=64, augment=False),
}


def _run(device, impl, tmp_path, mnist_dir, case):
    kw = dict(CASES[case])
    model = kw.pop("model")
    cfg = TrainConfig(
        model=model,
        impl=impl,
        device=device,
        dtype="float64",
        epochs=2,
        order="fixed",
        data_dir=str(mnist_dir),
        logdir=str(tmp_path / f"{device}-{impl}"),
        **kw,
    )
    data = load_data(cfg, torch.device(device), torch.float64)
    trainer = Trainer(cfg, data=data, progress_bar=False)
    losses = []
    trainer.run(on_step=lambda step, loss: losses.append(float(loss)))
    state = {k: v.cpu() for k, v in trainer.engine.state_dict().items()}
    return torch.tensor(losses, dtype=torch.float64), state


@pytest.mark.parametrize("impl", ["manual", "autograd"])
@pytest.mark.parametrize("case", list(CASES))
def test_cuda_run_equals_cpu_run(case, impl, mnist_dir, tmp_path):
    gpu_losses, gpu_state = _run("cuda", impl, tmp_path, mnist_dir, case)
    cpu_losses, cpu_state = _run("cpu", impl, tmp_path, mnist_dir, case)
    assert len(gpu_losses) == len(cpu_losses) > 10
    rel = ((gpu_losses - cpu_losses).abs() / cpu_losses.abs().clamp(min=1e-12)).max().item()
    assert rel < 1e-8, f"max relative loss difference {rel:.2e}"
    for k, w in cpu_state.items():
        err = (gpu_state[k] - w).abs().max().item()
        assert err < 1e-8 * max(1.0, w.abs().max().item()), f"{k}: max abs difference {err:.2e}"
    assert cpu_losses[-10:].mean() < cpu_losses[:10].mean()  # and it learns


def test_cli_trains_on_cuda(mnist_dir, tmp_path):
    run = tmp_path / "run"
    args = ["--data-dir", str(mnist_dir), "--epochs", "1", "--logdir", str(run), "--no-progress"]
    assert main(["train", "--device", "auto", *args]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["device"].startswith("cuda")
    assert results["final"]["test_error"] < 0.03  # one pass of lenet5-modern: about 1.5%
    code = main(["evaluate", str(run), "--data-dir", str(mnist_dir), "--device", "cuda"])
    assert code == 0


def test_reproduction_on_cuda_gets_its_own_row(mnist_dir, tmp_path):
    runs = tmp_path / "runs"
    common = ["--impl", "manual", "--epochs", "1", "--seeds", "1", "--limit", "300",
              "--runs-dir", str(runs), "--data-dir", str(mnist_dir), "--no-progress"]  # fmt: skip
    assert main(["reproduce", "lecun1989", "--device", "cpu", *common]) == 0
    assert main(["reproduce", "lecun1989", "--device", "cuda", *common]) == 0
    names = sorted(p.name for p in (runs / "summaries").glob("*.json"))
    assert names == [
        "lecun1989-faithful-manual-cuda-seed0.json",
        "lecun1989-faithful-manual-seed0.json",
    ]
    report = (runs / "REPRODUCTION.md").read_text()
    assert report.count("| measured: faithful / manual (shortened) |") == 1
    assert report.count("| measured: faithful / manual on cuda (shortened) |") == 1


@pytest.mark.parametrize("impl", ["manual", "autograd"])
def test_a_group_on_cuda_equals_its_runs_alone_and_on_the_cpu(impl, mnist_dir, tmp_path):
    from dataclasses import replace

    from lecnn.training.checkpoint import load_checkpoint
    from lecnn.training.grouped import GroupTrainer

    base = TrainConfig(model="lenet5", impl=impl, dtype="float64", batch_size=1, limit=100,
                       epochs=2, optimizer="sdlm:samples=50", lr=5e-4, schedule="constant",
                       data_dir=str(mnist_dir), compile="off")  # fmt: skip

    def group(device: str) -> list:
        configs = [replace(base, device=device, seed=s, logdir=str(tmp_path / device / f"{s}"))
                   for s in range(3)]  # fmt: skip
        return [o.result.run_dir for o in GroupTrainer(configs).run()]

    cuda, cpu = group("cuda"), group("cpu")
    alone = Trainer(replace(base, device="cuda", seed=1, logdir=str(tmp_path / "alone")),
                    progress_bar=False).run().run_dir  # fmt: skip
    for other in (cpu[1], alone):
        got = load_checkpoint(cuda[1] / "checkpoint.pt")["model_state"]
        want = load_checkpoint(other / "checkpoint.pt")["model_state"]
        for k, w in want.items():
            err = ((got[k].cpu() - w.cpu()).abs().max() / w.abs().max()).item()
            assert err < 1e-9, (other.name, k, err)
