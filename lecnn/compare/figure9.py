"""A chart in the style of LeCun et al. 1998's Fig. 9: test error per classifier, the paper's
figure beside lecnn's, as a PNG."""

from __future__ import annotations

import io
from pathlib import Path

from lecnn.training.checkpoint import write_atomically


def plot(rows: list[tuple[str, float, float]], path: Path, title: str) -> Path:
    """``rows``: (classifier, the paper's test error, lecnn's), drawn as paired horizontal bars
    in percent, each labelled with its value; written atomically to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    names = [r[0] for r in rows][::-1]
    paper = [100 * r[1] for r in rows][::-1]
    ours = [100 * r[2] for r in rows][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.4), dpi=120)
    y = range(len(rows))
    h = 0.38
    bars_p = ax.barh([i + h / 2 for i in y], paper, h, color="#9aa7b8", label="LeCun et al. 1998")
    bars_o = ax.barh([i - h / 2 for i in y], ours, h, color="#d1495b", label="lecnn")
    for bars in (bars_p, bars_o):
        ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
    ax.set_yticks(list(y), names, fontsize=9)
    ax.set_xlabel("test error (%)")
    ax.set_xlim(0, max(paper + ours) * 1.15)
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return write_atomically(path, lambda f: f.write(buf.getvalue()))
