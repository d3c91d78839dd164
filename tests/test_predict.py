"""``lecnn predict`` on users' own images, preprocessed the way MNIST was made."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from lecnn.cli import main
from lecnn.data.images import load_digit, to_mnist
from lecnn.errors import LecnnError
from lecnn.training.config import TrainConfig
from lecnn.training.loop import train


def _as_photo(digit: torch.Tensor, dark_on_light: bool, size=(200, 240), zoom=5, at=(30, 60)):
    """An MNIST digit drawn large, off-centre, on a bigger page: what a user might scan."""
    ink = np.kron(digit.numpy().astype(np.float64), np.ones((zoom, zoom)))
    page = np.zeros(size)
    page[at[0] : at[0] + ink.shape[0], at[1] : at[1] + ink.shape[1]] = ink
    if dark_on_light:
        page = 255 - page * 0.8  # grey ink on white paper
    return Image.fromarray(page.astype(np.uint8))


def test_preprocessing_recovers_an_mnist_like_digit(subset_dir):
    from lecnn.data import load_mnist

    digits = load_mnist(subset_dir).test_images[:20]
    for d in digits:
        for dark in (True, False):
            back = to_mnist(np.asarray(_as_photo(d, dark), dtype=np.float64))
            # the same digit, up to a pixel of shift (MNIST's own boxes came from other scans)
            best = max(
                _cosine(torch.roll(back, (dy, dx), (0, 1)), d)
                for dy in range(-2, 3)
                for dx in range(-2, 3)
            )
            assert best > 0.8, best
            # ink fits a 20-pixel box and its centre of mass is at the field's centre
            ys, xs = torch.nonzero(back > 30, as_tuple=True)
            assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 <= 21
            w = back.double()
            grid = torch.arange(28, dtype=torch.float64)
            cy, cx = (w.sum(1) @ grid) / w.sum(), (w.sum(0) @ grid) / w.sum()
            assert abs(cy - 13.5) <= 0.6 and abs(cx - 13.5) <= 0.6


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return (a @ b / (a.norm() * b.norm())).item()


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    train(
        TrainConfig(data_dir=str(mnist_dir), device="cpu", epochs=1, logdir=str(run)),
        progress_bar=False,
    )
    return run


def test_predict_own_images(trained, mnist, tmp_path, capsys):
    paths, truth = [], mnist.test_labels[:12].tolist()
    for i, d in enumerate(mnist.test_images[:12]):
        path = tmp_path / f"digit{i}.{'png' if i % 2 else 'jpg'}"
        _as_photo(d, dark_on_light=i % 3 != 0).save(path)
        paths.append(str(path))
    assert main(["predict", str(trained), *paths, "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 12
    got = [int(re.match(r".*: (\d)\s+probabilities", line).group(1)) for line in lines]
    assert sum(g == t for g, t in zip(got, truth)) >= 11, (got, truth)
    probs = [float(v) for v in re.findall(r"\d:([\d.]+)", lines[0].split("probabilities")[1])]
    assert len(probs) == 10 and sum(probs) == pytest.approx(1.0, abs=0.01)


def test_predict_rejects_blank_and_non_images(trained, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(LecnnError, match="blank"):
        load_digit(blank)
    with pytest.raises(LecnnError, match="not an image"):
        load_digit(text)
    for path in (blank, text, tmp_path / "missing.png"):
        assert main(["predict", str(trained), str(path), "--device", "cpu"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("lecnn predict: error:")
