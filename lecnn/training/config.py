"""Training configuration: defaults per model, validation, and the optimizer's construction."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from typing import Any

import torch

from lecnn import manual as M
from lecnn.data import DATA_ENV, DATASETS, Digits, Prepared, prepare
from lecnn.errors import LecnnError
from lecnn.models import IMPLS, MODELS, get_spec
from lecnn.options import call, split
from lecnn.training.augment import augmentation
from lecnn.training.schedules import parse_schedule


def _sdlm(lr: float, wd: float, mu: float = 0.02, samples: int = 500, every: int = 1) -> M.SDLM:
    if not (mu > 0 and math.isfinite(mu)) or samples < 1 or every < 1:
        raise LecnnError(
            f"--optimizer sdlm:mu={mu},samples={samples},every={every}: μ > 0, samples ≥ 1 and "
            "every ≥ 1 (passes between curvature estimates)"
        )
    return M.SDLM(lr, mu=mu, samples=samples, every=every)


def _adam(lr: float, wd: float, beta1: float = 0.9, beta2: float = 0.999) -> M.Adam:
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise LecnnError(f"--optimizer adam:beta1={beta1},beta2={beta2}: each β from 0 up to 1")
    return M.Adam(lr, betas=(beta1, beta2), weight_decay=wd, decoupled=True)


#: optimizer name → its construction from the rate and weight decay (``--optimizer`` choices);
#: keyword arguments with defaults are its options (``--optimizer sdlm:mu=0.1,samples=1000``)
OPTIMIZERS: dict[str, Callable[..., M.optim.Optimizer]] = {
    "sgd": lambda lr, wd: M.SGD(lr, weight_decay=wd),
    "momentum": lambda lr, wd: M.SGD(lr, momentum=0.9, weight_decay=wd),
    "adam": _adam,
    "sdlm": _sdlm,
}
#: named training recipes: a model and the settings that replace its defaults (``--recipe``);
#: flags given on the command line still win. "fast": the least training time to 99% on MNIST
#: (scripts/bench_train.py --recipe fast measures it)
RECIPES: dict[str, dict[str, Any]] = {
    "fast": {  # scripts/recipe_search.py's winner (runs/bench/recipe_search-cpu.txt)
        "model": "lenet5-modern",
        "epochs": 2,
        "batch_size": 512,
        "lr": 1e-2,
        "optimizer": "adam:beta1=0.7,beta2=0.9",
        "schedule": "onecycle",
        "augment": False,
    },
}
DTYPES = ("float32", "float64")
COMPILE_CHOICES = ("auto", "on", "off")
LAYOUT_CHOICES = ("auto", "channels-last", "contiguous")


def flag(help: str, kind: str = "text", **options: Any) -> dict[str, Any]:
    """A setting's command-line flag (``lecnn train`` builds its parser from these): the help
    text, how the value is read (``kind``: text, count, number, seed, switch — on when given —
    or onoff — ``--x``/``--no-x``), and argparse's ``choices`` or ``metavar``."""
    return {"flag": {"help": help, "kind": kind, **options}}


@dataclass
class TrainConfig:
    """Everything that defines a run. ``None`` means: the model's default (``TrainDefaults``).
    A field with ``flag`` metadata is a ``lecnn train`` flag of the same name."""

    model: str = field(
        default="lenet5-modern",
        metadata=flag(
            f"{', '.join(MODELS)}; lenet5 takes options, e.g. lenet5:init=printed,subsampling=sum "
            "(lecnn models lists them); with --recipe and no --model, the recipe's",
            metavar="MODEL",
        ),
    )
    impl: str = field(
        default="autograd",
        metadata=flag("hand-written backprop (manual) or torch autograd", choices=IMPLS),
    )
    dataset: str = field(default="mnist", metadata=flag("the data set", choices=tuple(DATASETS)))
    data_dir: str | None = field(
        default=None,
        metadata=flag(
            "folder with the four IDX files (gzip or raw), or torchvision's layout; default "
            f"${DATA_ENV}, else ~/.cache/lecnn (downloaded there when online)"
        ),
    )
    device: str = field(
        default="auto", metadata=flag("auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    )
    epochs: int | None = field(default=None, metadata=flag("passes over the training set", "count"))
    batch_size: int | None = field(
        default=None, metadata=flag("examples per update (1 = per-example SGD)", "count")
    )
    lr: float | None = field(default=None, metadata=flag("learning rate α (finite, > 0)", "number"))
    optimizer: str | None = field(
        default=None,
        metadata=flag(
            f"{', '.join(OPTIMIZERS)}; sdlm and adam take options: sdlm:mu=0.02,samples=500,every=1 (the "
            "paper's), adam:beta1=0.9,beta2=0.999",
            metavar="OPTIMIZER",
        ),
    )
    schedule: str | None = field(
        default=None,
        metadata=flag(
            "constant, inverse[:TAU] (α/(1+t/τ)), linear or cosine (to 0 over the run; "
            "cosine:warmup=0.1 rises over the first tenth first), onecycle (OneCycleLR's: up to α "
            "and down; options pct, anneal=cos|linear, div, final), passlinear:F (by pass, to "
            "F·α), or steps:PASSESxRATE,... (e.g. steps:2x0.0005,3x0.0002)"
        ),
    )
    augment: bool | None = field(
        default=None,
        metadata=flag("random distortions of the training digits, on the device", "onoff"),
    )
    weight_decay: float | None = field(
        default=None, metadata=flag("L2 weight decay (decoupled for adam)", "number")
    )
    seed: int = field(default=0, metadata=flag("random seed, 0 to 2**64-1", "seed"))
    deterministic: bool = field(
        default=False, metadata=flag("use torch's deterministic algorithms only", "switch")
    )
    dtype: str = field(default="float32", metadata=flag("", choices=DTYPES))
    logdir: str | None = field(
        default=None,
        metadata=flag(
            "this run's own folder, created if needed: TensorBoard events (sub-runs train/ and "
            "test/), checkpoint.pt, results.json (default runs/<model>-<impl>-<timestamp>); view it "
            "with tensorboard --logdir RUN_DIR, or its parent folder to compare runs",
            metavar="RUN_DIR",
        ),
    )
    eval_every: int = field(default=1, metadata=flag("test every N passes", "count"))
    log_every: int | None = field(
        default=None,
        metadata=flag(
            "updates between TensorBoard's step-level train loss/error points "
            "(default: about 300 points per run)",
            "count",
        ),
    )
    health_every: int | None = field(
        default=None,
        metadata=flag(
            "updates between samples of each layer's health (activations, saturated or dead "
            "units, Δ, update/weight ratio) into RUN/health.jsonl and TensorBoard's health/ "
            "charts, which lecnn diagnose reads; 0: none (default: about 40 per run)",
            "count",
        ),
    )
    limit: int | None = field(
        default=None, metadata=flag("train on the first N training digits only", "count")
    )
    order: str | None = field(
        default=None,
        metadata=flag(
            "example order in each pass: shuffled, or the data's own every pass",
            choices=("shuffle", "fixed"),
        ),
    )
    augment_kind: str | None = field(
        default=None,
        metadata=flag(
            "paper: the 1998 paper's distortions (shifts, scaling, squeezing, horizontal shearing; "
            "options strength, translate, scale, squeeze, shear, e.g. paper:strength=0.5); affine: "
            "stronger ones with rotation; shift1: ±1-pixel shifts; paper-pool: the 1998 protocol, each "
            "pass drawn from a fixed pool of the digits and 9 distorted copies of each "
            "(paper-pool:copies=9,strength=1)",
            metavar="KIND",
        ),
    )
    data_seed: int = 1337  # which digits form the 1989-sized set
    input: str | None = None  # the data's form, when not the model's own (same image size)
    compile: str = field(
        default="auto",
        metadata=flag(
            "run each update as one compiled program (torch.compile on the CPU, CUDA graphs on a "
            "GPU); auto: where it pays, i.e. long per-example CPU runs and long CUDA runs",
            choices=COMPILE_CHOICES,
        ),
    )
    memory_format: str = field(
        default="auto",
        metadata=flag(
            "how convolution maps lie in memory: channels-last (N×H×W×C, oneDNN's fastest on the "
            "CPU) or contiguous (N×C×H×W); auto: channels-last for autograd's batched float32 "
            "updates on the CPU, where it pays, contiguous elsewhere (the manual layers run "
            "faster contiguous)",
            choices=LAYOUT_CHOICES,
        ),
    )
    recipe: str | None = field(
        default=None,
        metadata=flag(
            "a named set of settings: fast = the least training time to 99%% test accuracy "
            "(lenet5-modern; flags given here still win)",
            choices=tuple(RECIPES),
        ),
    )

    def resolved(self) -> ResolvedConfig:
        """A copy with the model's defaults filled in, validated."""
        spec = get_spec(self.model)
        d = spec.defaults
        out = TrainConfig(**asdict(self))
        if self.recipe is not None:
            if self.recipe not in RECIPES:
                raise LecnnError(f"--recipe {self.recipe!r}: choose {', '.join(RECIPES)}")
            recipe = RECIPES[self.recipe]
            if recipe["model"] != self.model:
                raise LecnnError(
                    f"--recipe {self.recipe} trains {recipe['model']}, not {self.model}: "
                    f"leave --model out or give --model {recipe['model']}"
                )
            for name, value in recipe.items():
                if getattr(out, name) is None:
                    setattr(out, name, value)
        for name in (
            "epochs",
            "batch_size",
            "lr",
            "optimizer",
            "schedule",
            "augment",
            "weight_decay",
            "augment_kind",
            "order",
        ):
            if getattr(out, name) is None:
                setattr(out, name, getattr(d, name))
        out.validate()
        return ResolvedConfig(**asdict(out))

    def validate(self) -> None:
        """Raise ``LecnnError`` with one line naming the first setting out of range."""
        if self.impl not in ("autograd", "manual"):
            raise LecnnError(f"--impl {self.impl!r}: choose autograd or manual")
        if self.epochs is not None and self.epochs < 1:
            raise LecnnError(f"--epochs {self.epochs}: must be at least 1")
        if self.batch_size is not None and self.batch_size < 1:
            raise LecnnError(f"--batch-size {self.batch_size}: must be at least 1")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise LecnnError(f"--lr {self.lr}: the learning rate must be positive and finite")
        if self.optimizer is not None:
            make_optimizer(self)
        if self.weight_decay is not None and not (
            self.weight_decay >= 0 and math.isfinite(self.weight_decay)
        ):
            raise LecnnError(f"--weight-decay {self.weight_decay}: must be finite and not negative")
        if not 0 <= self.seed < 2**64:
            raise LecnnError(f"--seed {self.seed}: torch takes seeds from 0 to 2**64-1")
        if self.eval_every < 1:
            raise LecnnError(f"--eval-every {self.eval_every}: must be at least 1")
        if self.log_every is not None and self.log_every < 1:
            raise LecnnError(f"--log-every {self.log_every}: must be at least 1")
        if self.health_every is not None and self.health_every < 0:
            raise LecnnError(f"--health-every {self.health_every}: 0 (none) or more")
        if self.limit is not None and self.limit < 1:
            raise LecnnError(f"--limit {self.limit}: must be at least 1")
        if self.order not in (None, "shuffle", "fixed"):
            raise LecnnError(f"--order {self.order!r}: choose shuffle or fixed")
        if self.augment_kind is not None:
            augmentation(self.augment_kind)
        if self.compile not in COMPILE_CHOICES:
            raise LecnnError(f"--compile {self.compile!r}: choose {', '.join(COMPILE_CHOICES)}")
        if self.memory_format not in LAYOUT_CHOICES:
            raise LecnnError(
                f"--memory-format {self.memory_format!r}: choose {', '.join(LAYOUT_CHOICES)}"
            )
        if self.dtype not in DTYPES:
            raise LecnnError(f"--dtype {self.dtype!r}: choose float32 or float64")
        if self.schedule is not None:
            parse_schedule(self.schedule, self.lr or 1.0, 1, 1)

    def input_form(self) -> str:
        """The data's form: ``input`` when given, else the model's own."""
        return self.input or get_spec(self.model).input

    def prepare(
        self, digits: Digits, device: torch.device, dtype: torch.dtype = torch.float32
    ) -> Prepared:
        """``digits`` in the form this run's model reads, on ``device``."""
        return prepare(digits, self.input_form(), device, seed=self.data_seed, dtype=dtype)

    def to_dict(self) -> dict[str, Any]:
        """Every field by name (what results.json and checkpoints record)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """The config saved in a checkpoint (fields it lacks take their defaults; a value of the
        wrong kind, from a damaged or hand-edited file, is a one-line error)."""
        kinds = {"int": int, "str": str, "float": (int, float), "bool": bool, "None": type(None)}
        values = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            allowed = tuple(kinds[t.strip()] for t in str(f.type).split("|"))
            value = d[f.name]
            flat = tuple(k for a in allowed for k in (a if isinstance(a, tuple) else (a,)))
            if not isinstance(value, flat) or (isinstance(value, bool) and bool not in flat):
                raise LecnnError(f"the saved config's {f.name} is {value!r}, not {f.type}; "
                                 "the checkpoint is damaged")  # fmt: skip
            values[f.name] = value
        return cls(**values)


@dataclass
class ResolvedConfig(TrainConfig):
    """A ``TrainConfig`` with the model's defaults and the recipe filled in (``resolved()``): the
    settings a run trains with, none left to a default. Its fields are TrainConfig's."""

    epochs: int = 0
    batch_size: int = 0
    lr: float = 0.0
    optimizer: str = ""
    schedule: str = ""
    augment: bool = False
    weight_decay: float = 0.0
    order: str = ""
    augment_kind: str = ""


def make_optimizer(config: TrainConfig) -> M.optim.Optimizer:
    """The run's optimizer, with its options (``sdlm:mu=0.1``); an unknown name is refused, never
    replaced by a default."""
    name = split(config.optimizer or "")[0]
    if name not in OPTIMIZERS:
        raise LecnnError(f"--optimizer {config.optimizer!r}: choose {', '.join(OPTIMIZERS)}")
    make = partial(OPTIMIZERS[name], config.lr or 1.0, config.weight_decay or 0.0)
    return call(make, config.optimizer or name)
