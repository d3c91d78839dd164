"""What the classifiers' parameters look like ("intuitive interpretation of parameters", shown
rather than told), and where each classifier sits between error and time."""

from __future__ import annotations

from typing import Any

import numpy as np

from lecnn.lecture.kinds import Measured

#: the tree's splits drawn: the root and the nodes below it down to this depth (1 + 2 + 4)
SPLIT_DEPTH = 2
#: the MLP's hidden units whose input weights are drawn
HIDDEN_SHOWN = 10


def parameter_images(models: dict[str, Any]) -> dict[str, np.ndarray]:
    """Each readable model's parameters as 28×28 pictures: ``naive-bayes`` P(pixel on | digit),
    ``perceptron`` each unit's weights, ``mlp`` the first hidden units' input weights; each
    K×28×28 float."""
    nb, w, net = models["naive-bayes"], models["perceptron"], models["mlp"]
    first = next(layer for layer in net.layers if "weight" in layer.params)
    first = first.params["weight"][:HIDDEN_SHOWN]
    return {
        "naive-bayes": np.exp(nb.feature_log_prob_).reshape(-1, 28, 28),
        "perceptron": w[:, :-1].reshape(-1, 28, 28).numpy(),
        "mlp": first.detach().cpu().reshape(-1, 28, 28).numpy(),
    }


def first_splits(fitted: Any, depth: int = SPLIT_DEPTH) -> list[tuple[int, int, float]]:
    """The tree's splits from the root down to ``depth``, breadth first, as (row, column,
    threshold on the pixel's value in [0, 1])."""
    t, out, level = fitted.tree_, [], [0]
    for _ in range(depth + 1):
        nxt = []
        for node in level:
            if t.children_left[node] < 0:  # a leaf: no split
                continue
            row, col = divmod(int(t.feature[node]), 28)
            out.append((row, col, float(t.threshold[node])))
            nxt += [int(t.children_left[node]), int(t.children_right[node])]
        level = nxt
    return out


def interpretation_figure(plt: Any, m: Measured) -> Any:
    """One figure for the lot: naive Bayes' ten pixel-probability maps, the perceptron's ten
    weight maps, the MLP's first hidden units' weights, the tree's first splits on the mean
    digit."""
    images = parameter_images(m.models)
    titles = {"naive-bayes": "naive Bayes: P(pixel on | digit)",
              "perceptron": "perceptron: each digit's weights (red +, blue −)",
              "mlp": f"MLP: {HIDDEN_SHOWN} hidden units' input weights"}  # fmt: skip
    fig = plt.figure(figsize=(12, 6.4))
    grid = fig.add_gridspec(4, 10, height_ratios=(1, 1, 1, 1.8))
    for r, (key, stack) in enumerate(images.items()):
        for c in range(10):
            ax = fig.add_subplot(grid[r, c])
            ax.set_axis_off()
            if c >= len(stack):
                continue
            if key == "naive-bayes":
                ax.imshow(stack[c], cmap="gray_r", vmin=0, vmax=1)
            else:  # a few rarely-inked border pixels carry the largest weights: clip them
                bound = float(np.percentile(np.abs(stack[c]), 99)) or 1.0
                ax.imshow(stack[c], cmap="RdBu_r", vmin=-bound, vmax=bound)
            if key != "mlp":
                ax.set_title(str(c), fontsize=8)
            if c == 0:
                ax.text(0, -9, titles[key], fontsize=9, ha="left")
    ax = fig.add_subplot(grid[3, 0:2])
    ax.set_axis_off()
    ax.imshow(m.models["mean_digit"], cmap="gray_r")
    splits = first_splits(m.models["tree"])
    for n, (row, col, _) in enumerate(splits, 1):
        ax.plot(col, row, "o", ms=7, mfc="none", mec="tab:red")
        ax.text(col + 0.9, row - 0.6, str(n), color="tab:red", fontsize=8)
    text = "\n".join(f"{n}: pixel (row {row}, column {col}) > {th:.2f}?"
                     for n, (row, col, th) in enumerate(splits, 1))  # fmt: skip
    note = fig.add_subplot(grid[3, 2:])
    note.set_axis_off()
    note.text(0, 0.5, "decision tree: its first splits (breadth first), drawn on the mean "
              "digit\n" + text, fontsize=8, va="center", transform=note.transAxes)  # fmt: skip
    fig.subplots_adjust(left=0.02, right=0.98, top=0.94, bottom=0.02, hspace=0.45)
    return fig


def error_figure(plt: Any, m: Measured) -> Any:
    """Test error against training time and against classification time, log axes, one point
    per classifier."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, attr, label in ((axes[0], "train_seconds", "training seconds"),
                            (axes[1], "us_per_digit", "classification µs per digit")):  # fmt: skip
        # labels alternate above and below in order of error, so that neighbours do not overlap
        for n, f in enumerate(sorted(m.rows.values(), key=lambda f: f.test_error)):
            x = max(getattr(f, attr), 1e-4)  # storing the set takes next to no time
            ax.plot(x, 100 * f.test_error, "o", ms=7)
            ax.annotate(f.name.replace("neural network: ", ""), (x, 100 * f.test_error),
                        textcoords="offset points", xytext=(6, 5 if n % 2 else -11),
                        fontsize=8)  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}%")
        ax.yaxis.set_minor_formatter(lambda v, _: f"{v:g}%" if str(v)[0] in "25" else "")
        ax.set_xlabel(label + " (log scale)")
        ax.set_ylabel("test error (log scale)")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle("the lecture's classifiers on MNIST: error against time")
    fig.tight_layout()
    return fig
