"""The kinds of image file people save a digit in (phones, scanners, drawing programs, web
canvases), made from MNIST digits, and the committed set of them (tests/fixtures/digits: one file of
each kind and digits.json, the digit each must give), which this module writes:

    python tests/saved_images.py tests/fixtures/digits
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

KINDS = ("canvas-black-on-transparent", "white-on-transparent", "grey-with-alpha",
         "palette-with-transparency", "16-bit-light-on-dark", "phone-photo-rotated",
         "dark-on-light")  # fmt: skip
SUBSET = Path(__file__).resolve().parent / "fixtures" / "mnist-subset"


def suffix(kind: str) -> str:
    return ".jpg" if kind == "phone-photo-rotated" else ".png"


def page(digit: torch.Tensor) -> np.ndarray:
    """Ink strength 0–1 of an MNIST digit drawn large on a page (the strokes a program saves)."""
    ink = np.kron(digit.numpy().astype(np.float64) / 255.0, np.ones((5, 5)))
    page = np.zeros((180, 200))
    page[20 : 20 + ink.shape[0], 40 : 40 + ink.shape[1]] = ink
    return page


def as_saved(ink: np.ndarray, kind: str, path) -> None:
    """The page as a kind of file people make: what phones, scanners, drawing programs and web
    canvases save."""
    a = (ink * 255).round().astype(np.uint8)
    if kind == "canvas-black-on-transparent":  # a web canvas: black strokes, alpha = the stroke
        rgba = np.zeros((*a.shape, 4), np.uint8)
        rgba[..., 3] = a
        Image.fromarray(rgba, "RGBA").save(path)
    elif kind == "white-on-transparent":
        rgba = np.full((*a.shape, 4), 255, np.uint8)
        rgba[..., 3] = a
        Image.fromarray(rgba, "RGBA").save(path)
    elif kind == "grey-with-alpha":  # LA: dark grey strokes, the page transparent
        la = np.stack([np.full(a.shape, 40, np.uint8), a], axis=-1)
        Image.fromarray(la, "LA").save(path)
    elif kind == "palette-with-transparency":  # a GIF-like palette image, index 0 transparent
        idx = (a > 127).astype(np.uint8)
        im = Image.fromarray(idx, "P")
        im.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
        im.info["transparency"] = 0
        im.save(path, transparency=0)
    elif kind == "16-bit-light-on-dark":
        Image.fromarray(a.astype(np.uint16) * 257).save(path)
    elif kind == "phone-photo-rotated":  # stored on its side, the orientation tag says so
        im = Image.fromarray(255 - a).convert("RGB").transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90° clockwise to display"
        im.save(path, exif=exif, quality=95)
    elif kind == "dark-on-light":
        Image.fromarray(255 - a).save(path)
    else:
        raise AssertionError(kind)


def write_set(folder: Path) -> dict[str, int]:
    """One file of each kind, the subset's test digits in order, and digits.json naming the
    digit each must give; the manifest."""
    from lecnn.data import load_mnist

    digits = load_mnist(SUBSET)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for i, kind in enumerate(KINDS):
        name = f"{i}-{kind}{suffix(kind)}"
        as_saved(page(digits.test_images[i]), kind, folder / name)
        manifest[name] = int(digits.test_labels[i])
    (folder / "digits.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


if __name__ == "__main__":
    print(write_set(Path(sys.argv[1])))
