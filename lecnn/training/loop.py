"""The training loop, one piece of code for both implementations."""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from lecnn.data import Digits, Prepared, load_mnist, make_generator, pass_order, prepare
from lecnn.device import seed_everything, select_device, set_deterministic
from lecnn.errors import LecnnError
from lecnn.logs.tensorboard import RunLogger, timestamped_run_dir
from lecnn.manual import SDLM
from lecnn.manual.hessian import diagonal_hessian
from lecnn.models import build, build_loss, get_spec
from lecnn.training.augment import AUGMENTATIONS
from lecnn.training.checkpoint import FILENAME, load_checkpoint, save_checkpoint
from lecnn.training.config import TrainConfig, make_optimizer, parse_schedule
from lecnn.training.engine import Engine, ManualEngine, encode_targets, make_engine
from lecnn.training.evaluate import Evaluation, evaluate
from lecnn.training.results import RunResult, finish
from lecnn.training.resume import first_line, resumed_config
from lecnn.training.rundir import claim, remove_if_unused

CHECK_EVERY = 100  # updates between host syncs (finite-loss check, progress bar)
HESSIAN_SAMPLES = 500  # examples SDLM re-estimates its curvature on before each pass (the paper's)
LOG_POINTS = 300  # step-level points per run when --log-every is not given
# HParams columns: these first, and the first five visible by default (TensorBoard shows five)
HPARAMS_SHOWN = ("model", "impl", "optimizer", "lr", "batch_size")
HPARAMS_FIRST = (*HPARAMS_SHOWN, "epochs", "seed", "augment", "device")


class Diverged(LecnnError):
    """The loss became NaN or infinite."""

    exit_code = 1


@dataclass
class Progress:
    """Where a run stands; all of it goes into the checkpoint so a resumed run continues exactly."""

    epoch: int = 0  # the pass in progress (0-based)
    batch: int = 0  # batches of this pass already done
    step: int = 0  # updates done in all
    order: torch.Tensor | None = None  # this pass's permutation
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    train_seconds: float = 0.0  # training time so far, evaluation excluded
    history: list[dict[str, Any]] = field(default_factory=list)


def default_run_dir(config: TrainConfig) -> Path:
    return timestamped_run_dir(f"{config.model}-{config.impl}")


def prepare_for(
    config: TrainConfig, digits: Digits, device: torch.device, dtype: torch.dtype
) -> Prepared:
    """``digits`` in the form the run's model reads (its own, or ``config.input``)."""
    form = config.input or get_spec(config.model).input
    return prepare(digits, form, device, seed=config.data_seed, dtype=dtype)


def load_data(config: TrainConfig, device: torch.device, dtype: torch.dtype) -> Prepared:
    digits = load_mnist(config.data_dir, dataset=config.dataset)
    return prepare_for(config, digits, device, dtype)


def limited(data: Prepared, limit: int | None) -> Prepared:
    """``data`` with only the first ``limit`` training digits (all when None)."""
    if limit is None or limit >= len(data.train):
        return data
    return Prepared(train=data.train.head(limit), test=data.test, input=data.input)


class Trainer:
    """Runs (or resumes) one training run; see ``train``."""

    def __init__(
        self,
        config: TrainConfig,
        *,
        data: Prepared | None = None,
        resume: str | os.PathLike[str] | None = None,
        progress_bar: bool | None = None,
        overwrite: bool = False,
    ) -> None:
        ckpt = None
        if resume is not None:
            run_dir = Path(resume) if Path(resume).is_dir() else Path(resume).parent
            self._lock = claim(run_dir, resume=True, overwrite=False)
            try:
                ckpt = load_checkpoint(resume)
                config = resumed_config(TrainConfig.from_dict(ckpt["config"]), config, ckpt)
            except BaseException:
                self._lock.release()
                raise
        else:
            config.resolved()  # check the settings before touching the disk
            fresh = not config.logdir or not Path(config.logdir).exists()
            run_dir = Path(config.logdir) if config.logdir else default_run_dir(config)
            self._lock = claim(run_dir, resume=False, overwrite=overwrite)
        try:
            self._setup(config, data, run_dir, ckpt)
        except BaseException:
            self._lock.release()
            if ckpt is None and fresh:
                remove_if_unused(run_dir)  # a run that never started leaves no folder behind
            raise
        self.progress_bar = progress_bar
        self._stop = False
        self.final_test: Evaluation | None = None  # the test evaluation after the last pass

    def _setup(
        self,
        config: TrainConfig,
        data: Prepared | None,
        run_dir: Path,
        ckpt: dict[str, Any] | None,
    ) -> None:
        self.run_dir = run_dir
        self.checkpoint_path = run_dir / FILENAME
        config.logdir = str(run_dir.resolve())  # saved paths are absolute: resume from anywhere
        if config.data_dir is not None:
            config.data_dir = str(Path(config.data_dir).expanduser().resolve())
        self.config = cfg = config.resolved()
        self.spec = get_spec(cfg.model)
        self.device = select_device(cfg.device)
        self.dtype = getattr(torch, cfg.dtype)
        set_deterministic(cfg.deterministic)
        seed_everything(cfg.seed)
        if data is None:
            data = load_data(cfg, self.device, self.dtype)
        self.data = limited(data, cfg.limit)
        n = len(self.data.train)
        if cfg.batch_size > n:
            raise LecnnError(
                f"--batch-size {cfg.batch_size} is larger than the {n} training digits"
            )
        self.engine: Engine = make_engine(
            self.spec, cfg.impl, seed=cfg.seed, device=self.device, dtype=self.dtype
        )
        self.optimizer = make_optimizer(cfg)
        self.batches = math.ceil(n / cfg.batch_size)
        self.log_every = cfg.log_every or max(1, self.batches * cfg.epochs // LOG_POINTS)
        self.schedule = parse_schedule(cfg.schedule, cfg.lr, self.batches, cfg.epochs)
        self.train_targets = encode_targets(self.data.train.y, self.spec.target, self.dtype)
        self.generator = make_generator(self.device, cfg.seed)
        self.augment = AUGMENTATIONS[cfg.augment_kind]
        self.progress = Progress()
        if ckpt is not None:
            self._restore(ckpt)

    def close(self) -> None:
        """Release the run folder (``run`` does this when it returns)."""
        self._lock.release()

    # -- checkpoints ------------------------------------------------------------------------
    def _payload(self) -> dict[str, Any]:
        p = self.progress
        return {
            "config": self.config.to_dict(),
            "model": self.spec.name,
            "impl": self.config.impl,
            "model_state": {k: v.cpu() for k, v in self.engine.state_dict().items()},
            "optimizer_state": self.optimizer.state_dict(),
            "generator_state": self.generator.get_state(),
            "torch_rng_state": torch.get_rng_state(),
            "progress": {
                "epoch": p.epoch,
                "batch": p.batch,
                "step": p.step,
                "order": p.order.cpu() if p.order is not None else None,
                "loss_sum": p.loss_sum,
                "correct": p.correct,
                "seen": p.seen,
                "train_seconds": p.train_seconds,
            },
            "history": p.history,
        }

    def _restore(self, ckpt: dict[str, Any]) -> None:
        try:
            self.engine.load_state_dict(
                {k: v.to(self.device) for k, v in ckpt["model_state"].items()}
            )
        except (KeyError, RuntimeError) as e:
            raise LecnnError(
                f"{self.checkpoint_path}: its weights do not fit model {self.config.model} "
                f"({first_line(e)}); the checkpoint is damaged or from another model"
            ) from e
        opt = ckpt["optimizer_state"]
        opt["state"] = {
            k: {n: t.to(self.device) for n, t in s.items()} for k, s in opt["state"].items()
        }
        self.optimizer.load_state_dict(opt)
        try:
            self.generator.set_state(ckpt["generator_state"])
        except RuntimeError as e:
            raise LecnnError(
                f"cannot resume on {self.device}: the saved run used another device type"
            ) from e
        torch.set_rng_state(ckpt["torch_rng_state"])
        pr = ckpt["progress"]
        order = pr["order"].to(self.device) if pr["order"] is not None else None
        self.progress = Progress(
            pr["epoch"],
            pr["batch"],
            pr["step"],
            order,
            pr["loss_sum"],
            pr["correct"],
            pr["seen"],
            pr["train_seconds"],
            list(ckpt["history"]),
        )

    def save(self) -> Path:
        return save_checkpoint(self.checkpoint_path, self._payload())

    # -- the loop ---------------------------------------------------------------------------
    def request_stop(self, *_: Any) -> None:
        """Finish the current update, save a checkpoint and return (what Ctrl-C does)."""
        self._stop = True

    def _estimate_hessian(self, x: torch.Tensor, target: torch.Tensor) -> None:
        """SDLM's h_kk for this pass, from the hand-written second-derivative pass (for an
        autograd run, on a manual copy of its weights: the state dicts interchange)."""
        if isinstance(self.engine, ManualEngine):
            net = self.engine.net
        else:
            net = build(self.spec, "manual", device=self.device, dtype=self.dtype)
            net.load_state_dict(self.engine.state_dict())
        self.engine.train(False)
        hessian = diagonal_hessian(net, build_loss(self.spec, "manual"), x, target)
        self.engine.train(True)
        self.optimizer.set_hessian(hessian)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def run(self, on_step: Callable[[int], bool | None] | None = None) -> RunResult:
        """Train to the configured number of passes. ``on_step(step)`` runs after each update and
        may return True to stop as Ctrl-C would."""
        cfg, p, engine, opt = self.config, self.progress, self.engine, self.optimizer
        train = self.data.train
        self.logger = logger = RunLogger(self.run_dir, names=self.spec.display_name)
        if p.step == 0:
            self._log_start(logger)
        previous = None
        if sys.platform != "win32" and _in_main_thread():
            previous = signal.signal(signal.SIGINT, self.request_stop)
        bar = tqdm(
            total=cfg.epochs * self.batches,
            initial=p.epoch * self.batches + p.batch,
            disable=(not self.progress_bar) if self.progress_bar is not None else None,
            unit="batch",
            dynamic_ncols=True,
            desc=f"{cfg.model}/{cfg.impl}",
        )
        status = "finished"
        try:
            while p.epoch < cfg.epochs:
                if p.order is None:
                    p.order = pass_order(  # --order fixed: the 1989 protocol's constant order
                        len(train),
                        device=self.device,
                        generator=self.generator,
                        shuffle=cfg.order != "fixed",
                    )
                # this pass's examples gathered once, in order; each batch is then a view
                xs, ts, ys = train.x[p.order], self.train_targets[p.order], train.y[p.order]
                if isinstance(opt, SDLM) and (p.batch == 0 or not opt.state):
                    self._estimate_hessian(xs[:HESSIAN_SAMPLES], ts[:HESSIAN_SAMPLES])
                bs = cfg.batch_size
                loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
                correct = torch.zeros((), dtype=torch.int64, device=self.device)
                seen = 0
                logged = (0.0, 0, 0)  # loss_sum, correct, seen when the last step point was logged
                self._sync()
                t0 = time.perf_counter()
                since_check = 0
                while p.batch < self.batches:
                    start = p.batch * bs
                    x, t, y = xs[start : start + bs], ts[start : start + bs], ys[start : start + bs]
                    if cfg.augment:
                        x = self.augment(x, self.generator)
                    opt.lr = self.schedule(p.epoch, p.step)
                    loss, out = engine.train_step(x, t)
                    self.last_loss = loss
                    opt.step(engine.params(), engine.grads())
                    loss_sum += loss * len(y)
                    correct += (engine.predict(out) == y).sum()
                    seen += len(y)
                    p.batch += 1
                    p.step += 1
                    since_check += 1
                    stop = on_step(p.step) if on_step is not None else None
                    if p.step == 1 or p.step % self.log_every == 0:
                        logger.scalars({"optimizer/lr": opt.lr}, p.step)
                    if p.step % self.log_every == 0 and seen > logged[2]:
                        self._check_finite(loss)
                        now = (float(loss_sum), int(correct), seen)
                        n = now[2] - logged[2]
                        logger.metrics(
                            "train",
                            "step",
                            (now[0] - logged[0]) / n,
                            1.0 - (now[1] - logged[1]) / n,
                            p.step,
                        )
                        logged = now
                    if since_check >= CHECK_EVERY or p.batch == self.batches:
                        self._check_finite(loss)
                        bar.update(since_check)
                        bar.set_postfix(
                            loss=f"{(p.loss_sum + float(loss_sum)) / (p.seen + seen):.4f}",
                            acc=f"{(p.correct + int(correct)) / (p.seen + seen):.2%}",
                            img_s=f"{seen / max(time.perf_counter() - t0, 1e-9):,.0f}",
                            refresh=False,
                        )
                        since_check = 0
                    if stop or self._stop:
                        self._check_finite(loss, weights=True)
                        bar.update(since_check)
                        self._fold(loss_sum, correct, seen, t0)
                        self.save()
                        status = "interrupted"
                        return finish(self, status)
                self._fold(loss_sum, correct, seen, t0)
                self._end_epoch(logger, bar)
            return finish(self, status)
        except Diverged:
            logger.end_session("diverged")
            raise
        finally:
            bar.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            logger.close()
            self.close()

    def _log_start(self, logger: RunLogger) -> None:
        """What TensorBoard shows before the first pass ends: config, HParams, the graph."""
        cfg = self.config
        logger.config(cfg.to_dict())
        hparams = {k: v for k, v in cfg.to_dict().items() if k not in ("data_dir", "logdir")}
        hparams["device"] = str(self.device)
        logger.hparams(
            {k: hparams.pop(k) for k in HPARAMS_FIRST} | hparams,
            HPARAMS_SHOWN,
            {
                "test error %": ("test", "error_pct/pass"),
                "test accuracy %": ("test", "accuracy_pct/pass"),
                "train error %": ("train", "error_pct/pass"),
                "training seconds": ("", "time/train_seconds"),
            },
        )
        if isinstance(self.engine.net, torch.nn.Module):
            # traced in eval mode with the RNG state put back: logging draws no random numbers
            with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit.trace's deprecation notices
                self.engine.train(False)
                logger.graph(self.engine.net, self.data.train.x[:1])
                self.engine.train(True)

    def _check_finite(self, loss: torch.Tensor, weights: bool = False) -> None:
        """Stop with Diverged when the loss (or, with ``weights``, any weight) is not finite,
        before anything logs or saves it: the last good checkpoint stays as it was."""
        value = float(loss)
        bad = None if math.isfinite(value) else f"the loss became {value}"
        if bad is None and weights:
            for name, w in self.engine.params().items():
                if not bool(torch.isfinite(w).all()):
                    bad = f"weight {self.spec.display_name(name)} became non-finite"
                    break
        if bad is None:
            return
        cfg, p = self.config, self.progress
        kept = (
            f"the last good checkpoint is kept in {self.checkpoint_path}"
            if self.checkpoint_path.exists()
            else "no checkpoint had been written yet"
        )
        causes = [f"--lr {cfg.lr:g}"]
        if cfg.weight_decay:
            causes.append(f"--weight-decay {cfg.weight_decay:g}")
        if cfg.schedule != "constant":
            causes.append(f"--schedule {cfg.schedule}")
        raise Diverged(
            f"{bad} at pass {p.epoch + 1}, update {p.step}: the learning rate is too high for "
            f"this model (set by {', '.join(causes)}); try a smaller --lr; {kept}"
        )

    def _fold(self, loss_sum: torch.Tensor, correct: torch.Tensor, seen: int, t0: float) -> None:
        """Add this stretch's sums and time into the saved progress."""
        self._sync()
        p = self.progress
        p.train_seconds += time.perf_counter() - t0
        p.loss_sum += float(loss_sum)
        p.correct += int(correct)
        p.seen += seen

    def _end_epoch(self, logger: RunLogger, bar: tqdm) -> None:
        cfg, p = self.config, self.progress
        self._check_finite(torch.tensor(p.loss_sum / p.seen), weights=True)
        epoch = p.epoch + 1
        record: dict[str, Any] = {
            "epoch": epoch,
            "step": p.step,
            "lr": self.optimizer.lr,
            "train_loss": p.loss_sum / p.seen,
            "train_error": 1.0 - p.correct / p.seen,
            "train_seconds": p.train_seconds,
        }
        epoch_seconds = p.train_seconds - (p.history[-1]["train_seconds"] if p.history else 0.0)
        record["images_per_s"] = p.seen / epoch_seconds if epoch_seconds > 0 else None
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            ev = evaluate(self.engine, self.data.test)
            if epoch == cfg.epochs:  # the weights are final: finish() reports this evaluation
                self.final_test = ev
            record.update(test_loss=ev.loss, test_error=ev.error, test_misses=ev.misses)
            bar.write(
                f"pass {epoch}/{cfg.epochs}: train loss {record['train_loss']:.4f} "
                f"error {record['train_error']:.2%} | test loss {ev.loss:.4f} "
                f"error {ev.error:.2%} ({ev.misses} misses) | {record['images_per_s'] or 0:,.0f} images/s"
            )
        p.history.append(record)
        logger.metrics("train", "pass", record["train_loss"], record["train_error"], p.step)
        if "test_loss" in record:
            logger.metrics("test", "pass", record["test_loss"], record["test_error"], p.step)
        logger.scalars(
            {
                "speed/images_per_s": record["images_per_s"],
                "time/train_seconds": record["train_seconds"],
            },
            p.step,
        )
        logger.histograms(self.engine.params(), self.engine.grads(), p.step)
        name, first = next(iter(self.engine.params().items()))
        if first.dim() == 4:
            logger.filters(name, first, p.step)
        logger.flush()
        p.epoch, p.batch, p.order = epoch, 0, None
        p.loss_sum, p.correct, p.seen = 0.0, 0, 0
        self.save()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def train(config: TrainConfig, **kwargs: Any) -> RunResult:
    """Train (or with ``resume=RUN_DIR`` continue) a run; see ``Trainer``."""
    on_step = kwargs.pop("on_step", None)
    return Trainer(config, **kwargs).run(on_step)
