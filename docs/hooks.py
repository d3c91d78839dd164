"""MkDocs hooks for lecnn's site (``mkdocs build --strict``; each warning here fails the build).

- The measured reports under ``runs/`` (the reproduction report, the ablations, the 1998
  comparison, their figures and the benchmarks' outputs) are pages and files of the site as they
  are in the repository, not copies kept beside it.
- Math is rendered when the site is built: ``$...$`` and ``$$...$$`` (found by pymdownx.arithmatex)
  become MathML, which browsers draw without a script, so the site needs no network to read.
- Every public name on an API page has a docstring.
"""

from __future__ import annotations

import html
import importlib
import inspect
import logging
import re
from pathlib import Path

from latex2mathml.converter import convert
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.lecnn")
ROOT = Path(__file__).resolve().parent.parent
#: the repository's own files the site shows, as globs under the repository root
SHOWN = (
    "runs/*.md",
    "runs/*.png",
    "runs/compare/compare.*",
    "runs/classifiers/classifiers.*",
    "runs/bench/*.txt",
)
MATH = re.compile(r'<(span|div) class="arithmatex">\\[(\[](.*?)\\[)\]]</\1>', re.S)


def on_files(files: Files, config) -> Files:
    for pattern in SHOWN:
        for path in sorted(ROOT.glob(pattern)):
            rel = path.relative_to(ROOT).as_posix()
            files.append(File(rel, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def _mathml(match: re.Match, page) -> str:
    block, tex = match.group(1) == "div", html.unescape(match.group(2)).strip()
    try:
        return convert(tex, display="block" if block else "inline")
    except Exception as e:  # noqa: BLE001 (any failure of the converter is the page's error)
        log.warning("%s: cannot render math %r: %s", page.file.src_uri, tex, e)
        return match.group(0)


def on_page_content(content: str, page, config, files) -> str:
    return MATH.sub(lambda m: _mathml(m, page), content)


def _documented_modules() -> list[str]:
    names = []
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        names += re.findall(r"^::: ([\w.]+)", page.read_text(), re.M)
    return names


def _public(module) -> dict[str, object]:
    if hasattr(module, "__all__"):
        return {n: getattr(module, n) for n in module.__all__}
    return {
        n: obj
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    }


def _undocumented(name: str, obj: object) -> list[str]:
    missing = [] if inspect.getdoc(obj) else [name]
    if inspect.isclass(obj):
        for attr, member in vars(obj).items():
            if attr.startswith("_"):
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            # a method that overrides a documented one keeps its contract (inspect.getdoc)
            documented = inspect.getdoc(getattr(obj, attr)) if hasattr(obj, attr) else None
            if (inspect.isfunction(member) or isinstance(member, property)) and not documented:
                missing.append(f"{name}.{attr}")
    return missing


def on_pre_build(config) -> None:
    for module_name in _documented_modules():
        module = importlib.import_module(module_name)
        for name, obj in _public(module).items():
            if inspect.isclass(obj) or inspect.isfunction(obj):
                for missing in _undocumented(f"{module_name}.{name}", obj):
                    log.warning("%s has no docstring (it is on an API page)", missing)
