"""Named things with options, ``name:key=value,key=value`` (``lenet5:init=printed``,
``sdlm:mu=0.1``): parsed into keyword arguments of the function that builds the thing, each value
converted to the type of that argument's default, so the function's signature is the one list of
what may be set."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lecnn.errors import LecnnError


def split(text: str) -> tuple[str, dict[str, str]]:
    """``"lenet5:init=printed,coefficient=0.25"`` → ``("lenet5", {"init": "printed", ...})``."""
    name, _, rest = text.partition(":")
    options: dict[str, str] = {}
    for part in rest.split(",") if rest else ():
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise LecnnError(f"{text!r}: write options as {name}:KEY=VALUE,KEY=VALUE")
        options[key.strip()] = value.strip()
    return name, options


def call(factory: Callable[..., Any], text: str) -> Any:
    """``factory(**options)`` for the options in ``text``."""
    return factory(**parse(factory, text))


def parse(factory: Callable[..., Any], text: str) -> dict[str, Any]:
    """The options in ``text`` as ``factory``'s keyword arguments: its arguments with a number or
    a string as default; an unknown option or a value of the wrong type is a one-line error
    naming the choices."""
    name, given = split(text)
    signature = inspect.signature(factory)
    bound = getattr(factory, "keywords", {})  # set by a functools.partial: not the user's
    known = {
        k: p.default
        for k, p in signature.parameters.items()
        if isinstance(p.default, (int, float, str)) and k not in bound
    }
    kwargs: dict[str, Any] = {}
    for key, value in given.items():
        if key not in known:
            choices = ", ".join(known) or "none"
            raise LecnnError(f"{text!r}: {name} has no option {key!r}; its options: {choices}")
        kind = type(known[key])
        try:
            kwargs[key] = kind(value)
        except ValueError:
            what = {"int": "a whole number", "float": "a number", "str": "a word"}[kind.__name__]
            raise LecnnError(f"{text!r}: {key} takes {what}, not {value!r}") from None
    return kwargs


def canonical(text: str) -> str:
    """The same options in a fixed order, so equal settings have one spelling."""
    name, given = split(text)
    return name + (":" + ",".join(f"{k}={given[k]}" for k in sorted(given)) if given else "")
