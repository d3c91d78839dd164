"""A user's own digit image → the 28×28 form MNIST digits have (LeCun, Cortes & Burges: the
digit's bounding box scaled into 20×20 keeping its aspect ratio, then centred by centre of mass
in a 28×28 field), as uint8 with bright ink on a dark field."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from lecnn.errors import LecnnError

#: the largest image read (a phone photo is about 12 megapixels): its size is checked from the
#: header, before any pixel is decoded, so a huge or malicious file costs no memory
MAX_PIXELS = 40_000_000


def load_digit(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read an image file (dark-on-light or light-on-dark, up to MAX_PIXELS) → uint8 28×28."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise LecnnError(
                    f"{path}: {w}×{h} pixels is larger than the {MAX_PIXELS:,} this reads; "
                    "crop or shrink the image to the digit"
                )
            im.load()
            gray = grey_levels(im)
    except FileNotFoundError:
        raise LecnnError(f"{path}: no such file") from None
    except Image.DecompressionBombError:  # PIL's own limit, above ours: refused from the header
        raise LecnnError(
            f"{path}: larger than the {MAX_PIXELS:,} pixels this reads; "
            "crop or shrink the image to the digit"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise LecnnError(f"{path}: not an image PIL can read (PNG, JPEG, ...): {e}") from None
    return to_mnist(gray, str(path))


def grey_levels(im: Image.Image) -> np.ndarray:
    """The image as people see it, in grey levels 0–255 (H×W float): turned upright as its
    orientation tag says (phone photos), deeper-than-8-bit and float images scaled by their own
    range, and transparent pixels shown as the empty page (web canvases and drawing programs save
    strokes on a transparent background, often in the same black as the page's transparent
    pixels: only the alpha channel tells ink from paper)."""
    im = ImageOps.exif_transpose(im) or im
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):  # 16-bit, 32-bit, float grey
        values = np.asarray(im, dtype=np.float64)
        low, high = values.min(), values.max()
        return (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    if im.mode == "P" and "transparency" in im.info or im.mode in ("RGBA", "LA", "PA", "La"):
        rgba = im.convert("RGBA")
        grey = np.asarray(rgba.convert("L"), dtype=np.float64)
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        if alpha.max() - alpha.min() > 0.05:  # some pixels transparent: the strokes are the rest
            over_white = alpha * grey + (1 - alpha) * 255.0
            over_black = alpha * grey
            # the page shows as whichever background the strokes stand out from
            return max(over_white, over_black, key=lambda g: float(g.max() - g.min()))
        return grey
    return np.asarray(im.convert("L"), dtype=np.float64)


def to_mnist(gray: np.ndarray, name: str = "image") -> torch.Tensor:
    """Grayscale array (H×W, 0–255) → MNIST-style uint8 28×28 tensor."""
    if gray.max() - gray.min() < 16:
        raise LecnnError(f"{name}: the image is blank (no contrast between ink and paper)")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    # the paper is the border's colour; ink is whatever differs from it, made bright
    ink = gray if np.median(border) < 128 else 255.0 - gray
    ink = ink - np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))
    ink = np.clip(ink, 0, None)
    ink = ink / ink.max() * 255.0
    rows = np.nonzero(ink.max(1) > 0.2 * 255)[0]
    cols = np.nonzero(ink.max(0) > 0.2 * 255)[0]
    if len(rows) == 0 or len(cols) == 0:
        raise LecnnError(f"{name}: no ink found in the image")
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(
        Image.fromarray(crop.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS),
        dtype=np.float64,
    )
    field = np.zeros((28, 28))
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    field[top : top + small.shape[0], left : left + small.shape[1]] = small
    # shift so the centre of mass sits at the field's centre
    total = field.sum()
    yy, xx = np.mgrid[0:28, 0:28]
    cy, cx = (yy * field).sum() / total, (xx * field).sum() / total
    dy, dx = int(round(13.5 - cy)), int(round(13.5 - cx))
    shifted = np.zeros_like(field)
    src = field[max(0, -dy) : 28 - max(0, dy), max(0, -dx) : 28 - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return torch.from_numpy(np.clip(shifted, 0, 255).round().astype(np.uint8))
