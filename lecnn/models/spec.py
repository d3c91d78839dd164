"""Architectures, each defined once as a list of layer specs from which both implementations
are built (so parameter names, shapes and initial values agree)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from lecnn.errors import LecnnError
from lecnn.models.losses import Total, loss_total, sums_examples
from lecnn.models.tables import (
    LENET1_C3,
    LENET4_C3,
    LENET5_C3,
    ZIP_H2,
    random_prototypes,
    rbf_prototypes,
)

#: LeCun et al. 1998's step schedule for SDLM (passes × η)
LENET_STEPS = "steps:2x0.0005,3x0.0002,3x0.0001,4x0.00005,8x0.00001"
#: the QMNIST authors' run of the Lush demo: 10 passes at each of η = 1e-4, 1e-5, 1e-6
#: (facebookresearch/qmnist making_qmnist/lenet5.lsh.patch, ``do-mnist``)
LUSH_STEPS = "steps:10x0.0001,10x0.00001,10x0.000001"


@dataclass(frozen=True)
class L:
    """One layer: ``kind`` names a (manual, autograd) pair in ``lecnn.models.build``."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # the paper's name for a layer with weights (C1, S2, H1, F6, ...)


@dataclass(frozen=True)
class TrainDefaults:
    """Settings that give a good result for the model with ``lecnn train`` and no flags."""

    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    schedule: str = "constant"
    augment: bool = False
    weight_decay: float = 0.0
    augment_kind: str = "affine"  # "affine" distortions or "shift1" (±1 pixel)
    order: str = "shuffle"  # "shuffle" each pass, or "fixed"


InputForm = Literal[
    "mnist28", "lenet32", "lush32", "lenet28", "zip16"
]  # lecnn.data.prepare's forms
LossName = Literal["mse", "mse-sum", "mse-half", "cross-entropy", "rbf"]
TargetKind = Literal["index", "onehot01", "pm1"]  # class index, 0/1 one-hot, ±1 one-hot
InitScheme = Literal["torch", "lecun1989", "lenet5", "lenet5-printed", "lush"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    input: InputForm
    layers: tuple[L, ...]
    loss: LossName
    target: TargetKind
    init: InitScheme
    defaults: TrainDefaults
    #: outputs where the smallest value is the prediction (RBF penalties) rather than the largest
    predict_min: bool = False

    @property
    def sums_examples(self) -> bool:
        """Whether the loss adds its examples up (LeNet-1 and LeNet-4's) instead of averaging them."""
        return sums_examples(self.loss)

    def loss_total(self, loss: Total, n: int) -> Total:
        """The loss summed over the ``n`` examples it was computed on (``losses.loss_total``)."""
        return loss_total(self.loss, loss, n)

    def display_name(self, param: str) -> str:
        """A state-dict key with the layer's paper name for its index: ``0.weight`` → ``C1.weight``
        (unnamed layers keep their index)."""
        index, dot, rest = param.partition(".")
        if dot and index.isdigit() and int(index) < len(self.layers):
            name = self.layers[int(index)].name
            if name:
                return f"{name}.{rest}"
        return param


def _linear() -> ModelSpec:
    return ModelSpec(
        name="linear",
        description="a linear classifier: 784 inputs to 10 outputs, softmax cross-entropy",
        input="mnist28",
        layers=(L("flatten"), L("linear", {"in_features": 784, "out_features": 10}, "output")),
        loss="cross-entropy",
        target="index",
        init="torch",
        defaults=TrainDefaults("adam", lr=1e-3, batch_size=128, epochs=5),
    )


def mlp_spec(hidden: int, name: str = "", lr: float = 10.0, description: str = "") -> ModelSpec:
    """The lecture's logistic network 784-``hidden``-10 with squared error."""
    name = name or f"mlp-{hidden}"
    description = description or f"784-{hidden}-10 logistic units, squared error"
    return ModelSpec(
        name=name,
        description=description,
        input="mnist28",
        layers=(
            L("flatten"),
            L("linear", {"in_features": 784, "out_features": hidden}, "hidden"),
            L("sigmoid"),
            L("linear", {"in_features": hidden, "out_features": 10}, "output"),
            L("sigmoid"),
        ),
        loss="mse",
        target="onehot01",
        init="torch",
        defaults=TrainDefaults("sgd", lr=lr, batch_size=32, epochs=20),
    )


def _lecun1989() -> ModelSpec:
    conv = {"kernel_size": 5, "stride": 2, "padding": 2, "pad_value": -1.0, "bias": "unit"}
    return ModelSpec(
        name="lecun1989",
        description="LeCun et al. 1989 zip-code net: 16x16 input, H1 12@8x8, H2 12@4x4 "
        "(8 of 12 maps each), H3 30, 10 tanh outputs, targets ±1, MSE",
        input="zip16",
        layers=(
            L("conv", {"in_channels": 1, "out_channels": 12, "input_size": (16, 16), **conv}, "H1"),
            L("tanh"),
            L(
                "conv",
                {
                    "in_channels": 12,
                    "out_channels": 12,
                    "input_size": (8, 8),
                    "connection_table": ZIP_H2,
                    **conv,
                },
                "H2",
            ),
            L("tanh"),
            L("flatten"),
            L("linear", {"in_features": 192, "out_features": 30}, "H3"),
            L("tanh"),
            L("linear", {"in_features": 30, "out_features": 10}, "output"),
            L("tanh"),
        ),
        loss="mse",
        target="pm1",
        init="lecun1989",
        defaults=TrainDefaults("sgd", lr=0.03, batch_size=1, epochs=23, order="fixed"),
    )


def _lecun1989_modern() -> ModelSpec:
    base = _lecun1989()
    conv1, _, conv2, _, flatten, h3, _, out, _ = base.layers
    return ModelSpec(
        name="lecun1989-modern",
        description="the 1989 net with 33 years of hindsight: ReLU, dropout 0.25 after H2, a linear "
        "output with softmax cross-entropy (train with AdamW and ±1-pixel shifts)",
        input="zip16",
        layers=(
            conv1,
            L("relu"),
            conv2,
            L("relu"),
            L("dropout", {"p": 0.25}),
            flatten,
            h3,
            L("relu"),
            out,
        ),
        loss="cross-entropy",
        target="index",
        init="lecun1989",
        defaults=TrainDefaults(
            "adam",
            lr=3e-4,
            batch_size=1,
            epochs=80,
            schedule="passlinear:0.3333",
            augment=True,
            weight_decay=0.01,
            augment_kind="shift1",
            order="fixed",
        ),
    )


def _lenet5_trunk(sub: dict[str, Any]) -> tuple[L, ...]:
    """LeNet-5 from C1 to C5's squashing, the part the paper's net and its authors' code share
    (Table I's C3); ``sub`` sets S2 and S4's subsampling."""
    return (
        L("conv", {"in_channels": 1, "out_channels": 6, "kernel_size": 5}, "C1"),
        L("scaled_tanh"),
        L("subsampling", {"channels": 6, **sub}, "S2"),
        L("scaled_tanh"),
        L(
            "conv",
            {"in_channels": 6, "out_channels": 16, "kernel_size": 5, "connection_table": LENET5_C3},
            "C3",
        ),  # fmt: skip
        L("scaled_tanh"),
        L("subsampling", {"channels": 16, **sub}, "S4"),
        L("scaled_tanh"),
        L("conv", {"in_channels": 16, "out_channels": 120, "kernel_size": 5}, "C5"),
        L("scaled_tanh"),
    )


def _check_choices(model: str, **options: tuple[str, tuple[str, ...]]) -> None:
    """Each option's value is one of its choices, else a one-line error naming them."""
    for key, (value, choices) in options.items():
        if value not in choices:
            raise LecnnError(f"{model} option {key}={value!r}: choose {' or '.join(choices)}")


def lenet5_spec(
    init: str = "sqrt",
    subsampling: str = "mean",
    coefficient: float = 1.0,
    prototypes: str = "bitmaps",
    name: str = "lenet5",
) -> ModelSpec:
    """LeNet-5, with the choices the paper leaves open or that lecnn departs on as options
    (``--model lenet5:init=printed,subsampling=sum``): ``init`` U(±2.4/√F) ("sqrt") or the printed
    U(±2.4/F) ("printed"); S2/S4 ``subsampling`` "mean" or "sum" of their four inputs and the
    ``coefficient`` they start from; RBF ``prototypes`` lecnn's 7×12 "bitmaps" or "random" ±1."""
    _check_choices("lenet5", init=(init, ("sqrt", "printed")),
                   subsampling=(subsampling, ("mean", "sum")),
                   prototypes=(prototypes, ("bitmaps", "random")))  # fmt: skip
    sub = {"mode": subsampling, "coefficient": coefficient}
    protos = rbf_prototypes() if prototypes == "bitmaps" else random_prototypes()
    return ModelSpec(
        name=name,
        description="LeNet-5 (LeCun et al. 1998): 32x32 input, C1 6@28x28, S2, C3 16@10x10 "
        "(Table I), S4, C5 120, F6 84, scaled tanh, Euclidean RBF output",
        input="lenet32",
        layers=(
            *_lenet5_trunk(sub),
            L("flatten"),
            L("linear", {"in_features": 120, "out_features": 84}, "F6"),
            L("scaled_tanh"),
            L("rbf", {"prototypes": protos}, "output"),
        ),
        loss="rbf",
        target="index",
        init="lenet5" if init == "sqrt" else "lenet5-printed",
        defaults=TrainDefaults("sgd", lr=0.005, batch_size=16, epochs=10, schedule="cosine"),
        predict_min=True,
    )


def _lenet1() -> ModelSpec:
    conv = {"kernel_size": 5}
    return ModelSpec(
        name="lenet1",
        description="LeNet-1 (LeCun et al. 1990/1998): 16x16 digit in a 28x28 field, C1 4@24x24, "
        "S2, C3 12@8x8 (20 connections), S4 12@4x4, 10 scaled-tanh outputs, targets ±1, summed squared error",
        input="lenet28",
        layers=(
            L("conv", {"in_channels": 1, "out_channels": 4, **conv}, "C1"),
            L("scaled_tanh"),
            L("subsampling", {"channels": 4}, "S2"),
            L("scaled_tanh"),
            L(
                "conv",
                {"in_channels": 4, "out_channels": 12, "connection_table": LENET1_C3, **conv},
                "C3",
            ),  # fmt: skip
            L("scaled_tanh"),
            L("subsampling", {"channels": 12}, "S4"),
            L("scaled_tanh"),
            L("flatten"),
            L("linear", {"in_features": 192, "out_features": 10}, "output"),
            L("scaled_tanh"),
        ),
        loss="mse-sum",
        target="pm1",
        init="lenet5",
        defaults=TrainDefaults("sdlm", lr=0.0005, batch_size=1, epochs=20, schedule=LENET_STEPS),
    )


def _lenet4() -> ModelSpec:
    conv = {"kernel_size": 5}
    return ModelSpec(
        name="lenet4",
        description="LeNet-4 (LeCun et al. 1998): 32x32 input, C1 4@28x28, S2 8@14x14 (two per C1 "
        "map), C3 16@10x10 (3 of 8 maps each), S4 16@5x5, F5 120, 10 scaled-tanh outputs, summed "
        "squared error",
        input="lenet32",
        layers=(
            L("conv", {"in_channels": 1, "out_channels": 4, **conv}, "C1"),
            L("scaled_tanh"),
            L("subsampling", {"channels": 4, "copies": 2}, "S2"),
            L("scaled_tanh"),
            L(
                "conv",
                {"in_channels": 8, "out_channels": 16, "connection_table": LENET4_C3, **conv},
                "C3",
            ),  # fmt: skip
            L("scaled_tanh"),
            L("subsampling", {"channels": 16}, "S4"),
            L("scaled_tanh"),
            L("flatten"),
            L("linear", {"in_features": 400, "out_features": 120}, "F5"),
            L("scaled_tanh"),
            L("linear", {"in_features": 120, "out_features": 10}, "output"),
            L("scaled_tanh"),
        ),
        loss="mse-sum",
        target="pm1",
        init="lenet5",
        defaults=TrainDefaults("sdlm", lr=0.0005, batch_size=1, epochs=20, schedule=LENET_STEPS),
    )


def lenet5_lush_spec(
    input: str = "lush32",
    init: str = "lush",
    subsampling: str = "sum",
    coefficient: float = 0.5,
    name: str = "lenet5-lush",
) -> ModelSpec:
    """LeNet-5 as its authors' own code builds it (barak/lush packages/gblearn2/net-lenet5.lsh,
    net-cscscf.lsh): no F6 and no RBF layer, the squashing function after every layer. Options,
    each one of the paper protocol's choices instead of the code's (the ablations that measure
    what the gap between the two is made of): ``input`` "lenet32" (the paper's −0.1/1.175 field),
    ``init`` "sqrt" (the paper's U(±2.4/√F)), ``subsampling`` "mean" with ``coefficient`` 1."""
    _check_choices("lenet5-lush", input=(input, ("lush32", "lenet32")),
                   init=(init, ("lush", "sqrt")), subsampling=(subsampling, ("sum", "mean")))  # fmt: skip
    # the code: sums at 0.5, s-layer forget 1 2: 1/√(2·2), gb-modules-nn.lsh:592
    sub = {"mode": subsampling, "coefficient": coefficient}
    return ModelSpec(
        name=name,
        description="LeNet-5 as the authors' Lush code builds it: 32x32 input (0 background, ink "
        "2.55), C1 6, S2 (sums), C3 16 (Table I), S4, C5 120, 10 outputs, scaled tanh after every "
        "layer, ½ squared error to ±1 targets, 51,046 parameters",
        input=input,  # type: ignore[arg-type]
        layers=(
            *_lenet5_trunk(sub),
            L("flatten"),
            L("linear", {"in_features": 120, "out_features": 10}, "output"),
            L("scaled_tanh"),
        ),
        loss="mse-half",
        target="pm1",
        init="lush" if init == "lush" else "lenet5",
        defaults=TrainDefaults(
            "sdlm:samples=1000,every=10",
            lr=1e-4,
            batch_size=1,
            epochs=30,
            schedule=LUSH_STEPS,
            order="fixed",
        ),  # fmt: skip
    )


def _lenet5_modern() -> ModelSpec:
    return ModelSpec(
        name="lenet5-modern",
        description="LeNet-5 sizes with ReLU, max-pooling, full C3, linear output, cross-entropy",
        input="mnist28",
        layers=(
            L("conv", {"in_channels": 1, "out_channels": 6, "kernel_size": 5, "padding": 2}, "C1"),
            L("relu"),
            L("maxpool", {"kernel_size": 2}, "S2"),
            L("conv", {"in_channels": 6, "out_channels": 16, "kernel_size": 5}, "C3"),
            L("relu"),
            L("maxpool", {"kernel_size": 2}, "S4"),
            L("conv", {"in_channels": 16, "out_channels": 120, "kernel_size": 5}, "C5"),
            L("relu"),
            L("flatten"),
            L("linear", {"in_features": 120, "out_features": 84}, "F6"),
            L("relu"),
            L("linear", {"in_features": 84, "out_features": 10}, "output"),
        ),
        loss="cross-entropy",
        target="index",
        init="torch",
        defaults=TrainDefaults("adam", lr=3e-3, batch_size=128, epochs=3, schedule="cosine"),
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _linear(),
        mlp_spec(
            100, "mlp", 10.0, "the lecture's network: 784-100-10 logistic units, squared error"
        ),
        mlp_spec(
            300,
            "mlp-300",
            5.0,
            "784-300-10 logistic units, squared error (LeCun 1998's 2-layer net)",
        ),
        _lecun1989(),
        _lecun1989_modern(),
        _lenet1(),
        _lenet4(),
        lenet5_spec(),
        lenet5_lush_spec(),
        _lenet5_modern(),
    )
}

#: models that take options (``name:key=value,...``): the function that builds each
WITH_OPTIONS: dict[str, Callable[..., ModelSpec]] = {
    "lenet5": lenet5_spec,
    "lenet5-lush": lenet5_lush_spec,
}
