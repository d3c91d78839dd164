"""Pictures for TensorBoard: filter grids, labelled digit grids, a confusion matrix."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    x = x.detach().float().cpu()
    lo, hi = x.min(), x.max()
    x = (x - lo) / (hi - lo) if hi > lo else torch.zeros_like(x)
    return (x.numpy() * 255).astype(np.uint8)


def filter_grid(weight: torch.Tensor, zoom: int = 8) -> np.ndarray:
    """First-layer kernels (C_out×C_in×kh×kw, first input channel) side by side, HWC uint8."""
    k = weight[:, 0]
    tiles = [np.kron(_to_uint8(t), np.ones((zoom, zoom), dtype=np.uint8)) for t in k]
    pad = np.zeros((tiles[0].shape[0], 2), dtype=np.uint8)
    row = np.concatenate([np.concatenate([t, pad], 1) for t in tiles], 1)
    return np.repeat(row[:, :, None], 3, axis=2)


def labelled_grid(
    images: torch.Tensor, captions: list[str], columns: int = 8, zoom: int = 3
) -> np.ndarray:
    """Digits (N×1×H×W, any scale) in a grid, each with a caption under it; HWC uint8."""
    n = len(images)
    if n == 0:
        return np.zeros((16, 16, 3), dtype=np.uint8)
    h, w = images.shape[-2] * zoom, images.shape[-1] * zoom
    cap = 12
    rows = (n + columns - 1) // columns
    canvas = Image.new("RGB", (columns * (w + 4), rows * (h + cap + 4)), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (img, text) in enumerate(zip(images, captions)):
        tile = Image.fromarray(255 - _to_uint8(img[0])).resize((w, h), Image.NEAREST)
        x0, y0 = (i % columns) * (w + 4), (i // columns) * (h + cap + 4)
        canvas.paste(tile, (x0 + 2, y0 + 2))
        draw.text((x0 + 2, y0 + h + 2), text, fill=(200, 0, 0))
    return np.asarray(canvas)


def confusion_image(matrix: torch.Tensor, cell: int = 28) -> np.ndarray:
    """A 10×10 confusion matrix as a heat map with counts (rows: true, columns: predicted)."""
    m = matrix.cpu().double()
    k = m.shape[0]
    canvas = Image.new("RGB", ((k + 1) * cell, (k + 1) * cell), "white")
    draw = ImageDraw.Draw(canvas)
    off_max = (m - torch.diag(torch.diag(m))).max().item() or 1.0
    for i in range(k):
        draw.text((4, (i + 1) * cell + 8), str(i), fill="black")
        draw.text(((i + 1) * cell + 10, 4), str(i), fill="black")
        for j in range(k):
            v = m[i, j].item()
            shade = 255 - int(200 * (1.0 if i == j and v else min(v / off_max, 1.0)))
            color = (shade, 255, shade) if i == j else (255, shade, shade)
            box = ((j + 1) * cell, (i + 1) * cell, (j + 2) * cell - 1, (i + 2) * cell - 1)
            draw.rectangle(box, fill=color)
            draw.text((box[0] + 2, box[1] + 8), f"{int(v)}", fill="black")
    return np.asarray(canvas)
