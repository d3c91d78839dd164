"""The compiled update (``--compile on``) takes the same steps as eager training, and ``--compile
off`` is eager training exactly. Real MNIST, float64, whole training runs through ``Trainer``."""

from __future__ import annotations

import json

import pytest
import torch

from lecnn.data import make_generator, pass_order
from lecnn.training import compiled
from lecnn.training.compiled import PAYS_AFTER, use_compiled
from lecnn.training.config import TrainConfig, make_optimizer
from lecnn.training.engine import encode_targets, make_engine
from lecnn.training.loop import Trainer, load_data
from lecnn.training.updaters import EagerUpdate

CPU = torch.device("cpu")
UPDATES = 200

# (model, settings, updates per compiled call); each optimizer, dropout and both input sizes
CASES = [
    ("lecun1989", {"batch_size": 1}, 8),  # the 1989 protocol: SGD, one example per update
    ("lecun1989-modern", {"batch_size": 1}, 4),  # Adam, dropout
    # the 1998 protocol, over 2 passes: SDLM's curvature is re-estimated between them
    ("lenet5", {"batch_size": 1, "optimizer": "sdlm", "lr": 0.0005, "epochs": 2}, 2),
    ("lenet5-modern", {"batch_size": 8}, 2),  # Adam, batches: a chunk of two, as on CUDA
    ("mlp", {"batch_size": 8, "optimizer": "momentum", "weight_decay": 1e-4}, 1),
]


@pytest.fixture(scope="module")
def data64(mnist_dir):
    return {
        form: load_data(TrainConfig(model=model, data_dir=str(mnist_dir)), CPU, torch.float64)
        for form, model in (("zip16", "lecun1989"), ("lenet32", "lenet5"), ("mnist28", "mlp"))
    }


def _run(model, impl, settings, data, tmp_path, compile_):
    settings = {"epochs": 1, **settings}
    per_pass = UPDATES // settings["epochs"]
    cfg = TrainConfig(model=model, impl=impl, dtype="float64", device="cpu",
                      limit=per_pass * settings["batch_size"], compile=compile_,
                      logdir=str(tmp_path / f"{impl}-{compile_}"), **settings)  # fmt: skip
    trainer = Trainer(cfg, data=data[TrainConfig(model=model).input_form()], progress_bar=False)
    losses = []
    trainer.run(on_step=lambda step, loss: losses.append((step, float(loss))))
    return trainer, losses


def _max_rel(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per tensor: max |a − b| / max |a|."""
    return {k: ((a[k] - b[k]).abs().max() / a[k].abs().max().clamp(min=1e-300)).item() for k in a}


@pytest.mark.parametrize("impl", ["manual", "autograd"])
@pytest.mark.parametrize("model, settings, per_call", CASES, ids=[c[0] for c in CASES])
def test_compiled_and_eager_take_the_same_steps(
    model, settings, per_call, impl, data64, tmp_path, monkeypatch
):
    # fewer updates per call than a real run: each unrolled update adds compile time
    monkeypatch.setattr(compiled, "updates_per_call", lambda device, batch_size: per_call)
    eager, eager_losses = _run(model, impl, settings, data64, tmp_path, "off")
    before = torch.get_rng_state()
    comp, comp_losses = _run(model, impl, settings, data64, tmp_path, "on")
    # the compiled program draws its dropout masks from the run's generator, lent to torch's
    # default one for each call and taken back: the default one is left as it was
    assert torch.equal(torch.get_rng_state(), before)
    assert not eager.compiled and comp.compiled
    assert comp.compiled and comp.updater.program.per_call == per_call
    # every update reported, in order, and the optimizer counted them all
    assert (
        [s for s, _ in comp_losses] == [s for s, _ in eager_losses] == list(range(1, UPDATES + 1))
    )
    assert comp.optimizer.steps == eager.optimizer.steps == UPDATES
    a = torch.tensor([v for _, v in eager_losses], dtype=torch.float64)
    b = torch.tensor([v for _, v in comp_losses], dtype=torch.float64)
    loss_rel = ((a - b).abs() / a.abs()).max().item()
    assert loss_rel < 1e-9, f"max relative loss difference {loss_rel:.2e}"
    w_rel = _max_rel(eager.engine.state_dict(), comp.engine.state_dict())
    assert max(w_rel.values()) < 1e-9, w_rel
    # the last gradients stay where the histograms read them
    g_rel = _max_rel(eager.engine.grads(), comp.engine.grads())
    assert max(g_rel.values()) < 1e-9, g_rel
    assert a[-50:].mean() < a[:50].mean()  # and it learns
    h_e, h_c = eager.progress.history[-1], comp.progress.history[-1]
    assert h_c["train_loss"] == pytest.approx(h_e["train_loss"], rel=1e-9)
    assert h_c["train_error"] == h_e["train_error"]


def test_a_call_takes_a_chunk_of_updates_per_example_and_of_batches_on_cuda():
    cuda = torch.device("cuda")
    assert compiled.updates_per_call(CPU, 1) == compiled.PER_CALL["cpu"]
    assert compiled.updates_per_call(CPU, 256) == 1  # the CPU's batches: arithmetic-bound
    assert compiled.updates_per_call(cuda, 1) == compiled.PER_CALL["cuda"]
    assert compiled.updates_per_call(cuda, 256) == compiled.PER_CALL["cuda"]
    assert compiled.updates_per_call(cuda, 4096) == compiled.CHUNK_EXAMPLES // 4096
    assert compiled.updates_per_call(cuda, 10**6) == 1


def test_compile_off_is_eager_training_bit_for_bit(data64, tmp_path):
    """``--compile off`` runs exactly the updates a plain loop of ``train_step`` and ``step``
    takes: the same order, rates and arithmetic, to the last bit."""
    settings = {"batch_size": 1}
    trainer, losses = _run("lecun1989", "manual", settings, data64, tmp_path, "off")
    cfg = trainer.config
    engine = make_engine(
        trainer.engine.spec, "manual", seed=cfg.seed, device=CPU, dtype=torch.float64
    )
    opt = make_optimizer(cfg)
    train = data64["zip16"].train
    generator = make_generator(CPU, cfg.seed)
    order = pass_order(UPDATES, device=CPU, generator=generator, shuffle=cfg.order != "fixed")
    targets = encode_targets(train.y[:UPDATES], trainer.engine.spec.target, torch.float64)[order]
    xs = train.x[:UPDATES][order]
    plain = []
    for i in range(UPDATES):
        loss, _ = engine.train_step(xs[i : i + 1], targets[i : i + 1])
        opt.step(engine.params(), engine.grads())
        plain.append(float(loss))
    assert [v for _, v in losses] == plain
    for k, w in engine.state_dict().items():
        assert torch.equal(w, trainer.engine.state_dict()[k]), k


def test_auto_compiles_where_it_pays():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    long_cpu, long_cuda = PAYS_AFTER["cpu"], PAYS_AFTER["cuda"]
    assert use_compiled("auto", cpu, 1, long_cpu)  # a long per-example run
    assert not use_compiled("auto", cpu, 1, long_cpu - 1)  # too short to pay back compiling
    assert not use_compiled("auto", cpu, 16, 10 * long_cpu)  # batches: oneDNN's kernels win
    assert use_compiled("auto", cuda, 128, long_cuda)
    assert not use_compiled("auto", cuda, 128, long_cuda - 1)
    assert not use_compiled("auto", torch.device("mps"), 1, 10**9)
    assert use_compiled("on", cpu, 128, 1) and not use_compiled("off", cuda, 1, 10**9)


def test_short_runs_stay_eager_and_say_so(data64, tmp_path):
    trainer, _ = _run("lecun1989", "manual", {"batch_size": 1}, data64, tmp_path, "auto")
    assert not trainer.compiled and isinstance(trainer.updater, EagerUpdate)
    results = json.loads((trainer.run_dir / "results.json").read_text())
    assert results["config"]["compile"] == "auto" and results["compiled"] is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not present here")
@pytest.mark.parametrize("impl", ["manual", "autograd"])
@pytest.mark.parametrize(("model", "batch"), [("lecun1989", 1), ("lenet5-modern", 64)])
def test_cuda_graph_update_takes_the_eager_steps(impl, model, batch, mnist_dir, tmp_path):
    """Per example, and a chunk of batches per graph (40 batches: one chunk of 32, 8 eager)."""
    cuda = torch.device("cuda")
    data = load_data(TrainConfig(model=model, data_dir=str(mnist_dir)), cuda, torch.float64)
    runs = {}
    for compile_ in ("off", "on"):
        cfg = TrainConfig(model=model, impl=impl, dtype="float64", device="cuda",
                          epochs=1, limit=256 if batch == 1 else 40 * batch, batch_size=batch,
                          compile=compile_, logdir=str(tmp_path / compile_))  # fmt: skip
        trainer = Trainer(cfg, data=data, progress_bar=False)
        trainer.run()
        runs[compile_] = trainer
    assert runs["on"].compiled
    assert runs["on"].updater.program.per_call == compiled.updates_per_call(cuda, batch)
    rel = _max_rel(runs["off"].engine.state_dict(), runs["on"].engine.state_dict())
    assert max(rel.values()) < 1e-9, rel
