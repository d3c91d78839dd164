"""The code a run was made by: lecnn's version and the commit of the checkout it runs from, taken
once when lecnn is imported (a worker imports it when it starts), so a commit made while runs
train is not taken for the one that made them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from lecnn import __version__

#: the checkout lecnn runs from (the package's parent folder)
SOURCE = Path(__file__).resolve().parents[1]


def source_commit(root: Path = SOURCE) -> tuple[str | None, bool | None]:
    """(commit, clean): ``git rev-parse HEAD`` of the checkout lecnn runs from, and whether its
    ``lecnn/`` matches that commit (the code that makes the numbers; a reproduction writes into
    runs/, which says nothing of the code). (None, None) outside a git checkout (a wheel)."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30, check=False)  # fmt: skip

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None, None
        status = git("status", "--porcelain", "--untracked-files=no", "--", "lecnn")
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head.stdout.strip(), status.returncode == 0 and status.stdout.strip() == ""


#: the commit of the code this process imported: taken once, when this module is first imported
#: (a worker of lecnn reproduce imports it when it starts), so a commit made while runs train is
#: not taken for the one that made them
IMPORTED = source_commit()


def code_record() -> dict[str, Any]:
    """What every run's record says of its code: version, commit, and whether ``lecnn/`` was as
    committed (commit and clean None outside a git checkout: a wheel)."""
    commit, clean = IMPORTED
    return {"version": __version__, "commit": commit, "clean": clean}
