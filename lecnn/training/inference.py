"""Rebuilding a trained network from a checkpoint."""

from __future__ import annotations

import os
from typing import Any

import torch

from lecnn.errors import LecnnError
from lecnn.models import get_spec
from lecnn.training.checkpoint import load_checkpoint
from lecnn.training.config import TrainConfig
from lecnn.training.engine import Engine, make_engine
from lecnn.training.resume import first_line


def engine_from_checkpoint(
    path: str | os.PathLike[str], device: torch.device, impl: str | None = None
) -> tuple[Engine, TrainConfig, int]:
    """The network saved at ``path`` (run folder or file), in its own or the given implementation
    (state dicts interchange), its config, and the updates it had taken."""
    ckpt = load_checkpoint(path)
    config = TrainConfig.from_dict(ckpt["config"])
    config.validate()  # a damaged value (an unknown dtype or implementation) is a one-line error
    spec = get_spec(config.model)
    engine = make_engine(
        spec, impl or config.impl, seed=None, device=device, dtype=getattr(torch, config.dtype)
    )
    try:
        engine.load_state_dict({k: v.to(device) for k, v in ckpt["model_state"].items()})
    except (KeyError, RuntimeError) as e:
        raise LecnnError(
            f"{path}: its weights do not fit model {config.model} ({first_line(e)}); "
            "the checkpoint is damaged or from another model"
        ) from e
    return engine, config, int(ckpt["progress"]["step"])


def engine_from_weights(
    name: str | None, device: torch.device, impl: str = "autograd"
) -> tuple[Engine, TrainConfig, Any]:
    """A shipped network (``lecnn.models.pretrained``; default: the default one) in ``impl``, the
    config that prepares its data, and its provenance."""
    from lecnn.models.shipped import default_name, load_weights

    entry, state = load_weights(name or default_name())
    config = TrainConfig(model=entry.model, impl=impl)
    engine = make_engine(get_spec(entry.model), impl, seed=None, device=device)
    engine.load_state_dict({k: v.to(device) for k, v in state.items()})
    return engine, config, entry
