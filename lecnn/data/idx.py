"""Reading and verifying IDX files (the MNIST container format), gzip-compressed or raw.

An IDX file is a big-endian header — two zero bytes, a type code (0x08 = uint8), the number of
dimensions — then one uint32 per dimension, then the data. MNIST images use magic 2051
(uint8, 3 dims: N×28×28) and labels magic 2049 (uint8, 1 dim: N).
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from lecnn.errors import LecnnError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_bytes(path: Path) -> bytes:
    """The uncompressed bytes of ``path`` (gunzipped when it ends in .gz)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise LecnnError(f"{path}: cannot read ({e}); the file is damaged, fetch it again") from e


def parse_idx(path: Path, data: bytes, magic: int, item_shape: tuple[int, ...]) -> np.ndarray:
    """Check the header and size of IDX ``data`` and return it as a uint8 array N×item_shape."""
    ndim = 1 + len(item_shape)
    header = 4 + 4 * ndim
    if len(data) < 4:
        raise LecnnError(f"{path}: only {len(data)} bytes, not an IDX file; fetch it again")
    (found,) = struct.unpack(">i", data[:4])
    if found != magic:
        raise LecnnError(
            f"{path}: wrong IDX magic number {found} (expected {magic}); "
            "is this the right file (images 2051, labels 2049)?"
        )
    if len(data) < header:
        raise LecnnError(f"{path}: truncated header ({len(data)} bytes); fetch the file again")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if tuple(dims[1:]) != item_shape:
        raise LecnnError(
            f"{path}: items are {'x'.join(map(str, dims[1:]))}, expected "
            f"{'x'.join(map(str, item_shape))}"
        )
    n = dims[0]
    expected = header + n * int(np.prod(item_shape, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise LecnnError(
            f"{path}: {what}: {len(data)} bytes where the header promises {expected} "
            f"({n} items); fetch the file again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape((n, *item_shape))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_sha256sums(path: Path) -> dict[str, str]:
    """Parse a ``SHA256SUMS`` file into {file name: hex digest} (``*name`` binary marks allowed)."""
    sums: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise LecnnError(f"{path}:{lineno}: not a 'SHA256  filename' line: {line!r}")
        sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums
