"""The documentation site: its hooks render math and refuse undocumented API names, every page is
reachable, and the lecture page shows the pictures ``lecnn lecture --out`` writes.
(CI builds the whole site with ``mkdocs build --strict``.)"""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _hooks():
    spec = importlib.util.spec_from_file_location("lecnn_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Page:
    class file:
        src_uri = "test.md"


def test_math_becomes_mathml_and_bad_tex_is_a_warning(caplog):
    hooks = _hooks()
    html = (
        '<p>the unit <span class="arithmatex">\\(a_j = g(in_j)\\)</span> and</p>'
        '<div class="arithmatex">\\[\\Delta_j = g\'(in_j) \\sum_k w_{jk} \\Delta_k\\]</div>'
        '<div class="arithmatex">\\[\\frac{a &lt; b}{2}\\]</div>'
    )
    out = hooks.on_page_content(html, _Page, None, None)
    assert "arithmatex" not in out and "\\(" not in out and "\\frac" not in out
    assert out.count("<math") == 3 and 'display="block"' in out and "<mfrac>" in out
    # the escaped "<" reached the converter as "<" and came back as a character reference
    assert "&lt;" in out or "&#x0003C;" in out
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.lecnn"):
        bad = '<span class="arithmatex">\\(\\left( x\\)</span>'  # no \\right
        assert hooks.on_page_content(bad, _Page, None, None) == bad  # left as it was
    assert "cannot render math" in caplog.text


class Base:
    """A base."""

    def forward(self):
        """The contract."""


class Child(Base):
    """A child."""

    def forward(self):  # documented by the base
        return 1

    def extra(self):
        return 2

    @property
    def size(self):
        return 3


def bare():
    return 0


def test_an_undocumented_public_name_is_reported_an_inherited_contract_is_not():
    hooks = _hooks()
    assert hooks._undocumented("Child", Child) == ["Child.extra", "Child.size"]
    assert hooks._undocumented("bare", bare) == ["bare"]
    assert hooks._undocumented("Base", Base) == []


def _nav_pages(nav) -> list[str]:
    out = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        out += _nav_pages(value) if isinstance(value, list) else [value]
    return out


def test_every_page_is_in_the_navigation_and_exists():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_pages(config["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages <= set(nav), sorted(pages - set(nav))
    for page in nav:  # a page under runs/ comes from the repository itself (docs/hooks.py)
        assert (DOCS / page).is_file() or (ROOT / page).is_file(), page


@pytest.mark.parametrize("step", ["linreg", "logistic", "xor", "sgd", "capacity"])
def test_the_lecture_page_shows_each_steps_picture(step):
    """The pictures are the files ``lecnn lecture STEP --out docs/img`` writes (named after their
    TensorBoard tags), committed, and on the page."""
    source = (ROOT / "lecnn" / "lecture" / f"{step}.py").read_text()
    tags = re.findall(r'keep_figure\(fig, tb, "([^"]+)", out\)', source)
    assert len(tags) == 1, step
    name = tags[0].replace("/", "-") + ".png"
    assert (DOCS / "img" / name).is_file(), name
    assert f"](img/{name})" in (DOCS / "lecture.md").read_text()


def test_the_site_check_sees_raw_tex_a_reader_would_see(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # as when run as scripts/check_docs_site.py
    spec = importlib.util.spec_from_file_location(
        "check_docs_site", ROOT / "scripts" / "check_docs_site.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for raw in ("The chain rule: \\(\\Delta_k\\)", "a $w_{ij}$ here", "\\frac{a}{b}", "\\[x\\]"):
        assert module.RAW_TEX.search(raw), raw
    for drawn in ("The chain rule: Δₖ and Δⱼ", "w ← w + α a Δ", "price ($1000s)"):
        assert not module.RAW_TEX.search(drawn), drawn
