"""Pictures for TensorBoard: filter grids, labelled digit grids, a confusion matrix.

Sizes are chosen for TensorBoard's default image card (about 400 px wide): text is drawn with
Pillow's scalable default font at a size that stays legible there."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType: the small bitmap font
        return ImageFont.load_default()


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    x = x.detach().float().cpu()
    lo, hi = x.min(), x.max()
    x = (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)
    return (x.numpy() * 255).astype(np.uint8)


def filter_grid(weight: torch.Tensor, size: int = 64, columns: int | None = None) -> np.ndarray:
    """Convolution kernels (C_out×C_in×kh×kw; the first input channel) as a grid of enlarged
    tiles, each scaled to its own range (dark = negative); HWC uint8."""
    k = weight[:, 0]
    n = len(k)
    columns = columns or min(n, 8)
    rows = math.ceil(n / columns)
    zoom = max(1, size // max(k.shape[-2:]))
    th, tw = k.shape[-2] * zoom, k.shape[-1] * zoom
    gap = 4
    canvas = np.full((rows * (th + gap) + gap, columns * (tw + gap) + gap), 255, dtype=np.uint8)
    for i, t in enumerate(k):
        tile = np.kron(_to_uint8(t), np.ones((zoom, zoom), dtype=np.uint8))
        y0, x0 = gap + (i // columns) * (th + gap), gap + (i % columns) * (tw + gap)
        canvas[y0 : y0 + th, x0 : x0 + tw] = tile
    return np.repeat(canvas[:, :, None], 3, axis=2)


def labelled_grid(
    images: torch.Tensor, captions: list[str], columns: int = 6, zoom: int = 2
) -> np.ndarray:
    """Digits (N×1×H×W, any scale) in a grid, each with a caption of one or more lines under it
    (``"pred 7\ntrue 2"``); about 400 px wide, so TensorBoard's card shows it unscaled. HWC uint8."""
    n = len(images)
    if n == 0:
        return np.full((16, 16, 3), 255, dtype=np.uint8)
    h, w = int(images.shape[-2] * zoom), int(images.shape[-1] * zoom)
    font = _font(14)
    lines = max(c.count("\n") + 1 for c in captions)
    cap = int(lines * (font.getbbox("0g")[3] + 2) + 2)
    rows = (n + columns - 1) // columns
    gap = 10
    canvas = Image.new("RGB", (columns * (w + gap), rows * (h + cap + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (img, text) in enumerate(zip(images, captions)):
        tile = Image.fromarray(255 - _to_uint8(img[0])).resize((w, h), Image.Resampling.NEAREST)
        x0, y0 = (i % columns) * (w + gap), (i // columns) * (h + cap + gap)
        canvas.paste(tile, (x0 + gap // 2, y0 + gap // 2))
        draw.multiline_text(
            (x0 + gap // 2, y0 + h + gap // 2 + 1), text, fill=(200, 0, 0), font=font, spacing=2
        )
    return np.asarray(canvas)


def confusion_image(matrix: torch.Tensor, cell: int = 34) -> np.ndarray:
    """A K×K confusion matrix as a heat map with counts; rows: true digit, columns: predicted
    digit (both axes titled). Diagonal cells green, errors red by their share of the largest."""
    m = matrix.cpu().double()
    k = m.shape[0]
    # about 400 px wide for 10 classes: TensorBoard's card shows it unscaled, counts legible
    font, small = _font(cell // 2), _font(max(10, cell * 7 // 16))
    margin = cell + 12  # axis title + digit labels
    canvas = Image.new("RGB", (margin + k * cell + 4, margin + k * cell + 4), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((margin + k * cell // 2, 4), "predicted digit", fill="black", font=font, anchor="mt")
    title = Image.new("RGB", (k * cell, cell // 2), "white")
    ImageDraw.Draw(title).text(
        (k * cell // 2, 0), "true digit", fill="black", font=font, anchor="mt"
    )
    canvas.paste(title.rotate(90, expand=True), (4, margin))
    off_max = (m - torch.diag(torch.diag(m))).max().item() or 1.0
    for i in range(k):
        centre = margin + i * cell + cell // 2
        draw.text((margin - 6, centre), str(i), fill="black", font=font, anchor="rm")
        draw.text((centre, margin - 4), str(i), fill="black", font=font, anchor="mb")
        for j in range(k):
            v = m[i, j].item()
            shade = 255 - int(200 * (1.0 if i == j and v else min(v / off_max, 1.0)))
            color = (shade, 255, shade) if i == j else (255, shade, shade)
            x0, y0 = margin + j * cell, margin + i * cell
            draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=color, outline=(230,) * 3)
            text = f"{int(v)}"
            draw.text(
                (x0 + cell // 2, y0 + cell // 2),
                text,
                fill="black",
                font=font if len(text) < 4 else small,
                anchor="mm",
            )
    return np.asarray(canvas)
