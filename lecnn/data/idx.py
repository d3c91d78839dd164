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
from typing import Any, Protocol

import numpy as np

from lecnn.errors import LecnnError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


#: more items than any MNIST-format split holds (EMNIST's largest has 814,255): a header that
#: promises more is refused before anything is decompressed
MAX_ITEMS = 1_000_000


def read_idx(path: Path, magic: int, item_shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """Stream IDX ``path`` (gunzipped when it ends in .gz): the header is checked first, then
    exactly the bytes it promises are read, so a decompression bomb stops at the expected size.
    Returns the items as a uint8 array N×item_shape and the SHA-256 of the uncompressed file."""
    opener = gzip.open if path.suffix == ".gz" else open
    digest = hashlib.sha256()
    try:
        with opener(path, "rb") as f:
            n = _read_header(path, f, digest, magic, item_shape)
            expected = n * int(np.prod(item_shape, dtype=np.int64))
            body = _read_up_to(f, expected)
            digest.update(body)
            if len(body) < expected:
                raise LecnnError(
                    f"{path}: truncated: {len(body)} data bytes where the header promises "
                    f"{expected} ({n} items); fetch the file again"
                )
            if f.read(1):
                raise LecnnError(
                    f"{path}: has trailing bytes after the {n} items its header promises; "
                    "fetch the file again"
                )
    except (OSError, EOFError, zlib.error) as e:
        raise LecnnError(f"{path}: cannot read ({e}); the file is damaged, fetch it again") from e
    array = np.frombuffer(body, dtype=np.uint8).reshape((n, *item_shape))
    return array, digest.hexdigest()


def _read_header(
    path: Path, f: _Reader, digest: Any, magic: int, item_shape: tuple[int, ...]
) -> int:
    """Read and check the header (magic number, dimensions, item count); the count."""
    ndim = 1 + len(item_shape)
    head = f.read(4)
    digest.update(head)
    if len(head) < 4:
        raise LecnnError(f"{path}: only {len(head)} bytes, not an IDX file; fetch it again")
    (found,) = struct.unpack(">i", head)
    if found != magic:
        raise LecnnError(
            f"{path}: wrong IDX magic number {found} (expected {magic}); "
            "is this the right file (images 2051, labels 2049)?"
        )
    raw_dims = f.read(4 * ndim)
    digest.update(raw_dims)
    if len(raw_dims) < 4 * ndim:
        raise LecnnError(f"{path}: truncated header; fetch the file again")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    if tuple(dims[1:]) != item_shape:
        raise LecnnError(
            f"{path}: items are {'x'.join(map(str, dims[1:]))}, expected "
            f"{'x'.join(map(str, item_shape))}"
        )
    if dims[0] > MAX_ITEMS:
        raise LecnnError(
            f"{path}: the header promises {dims[0]:,} items, more than any MNIST-format set "
            f"({MAX_ITEMS:,} at most); the file is damaged or not a digit set"
        )
    return int(dims[0])


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _read_up_to(f: _Reader, size: int, chunk: int = 1 << 20) -> bytearray:
    """Up to ``size`` bytes of ``f``, a chunk at a time: what a header promises is not allocated
    before the bytes are there (a 16-byte file claiming a million images costs 1 MB, not 784)."""
    out = bytearray()
    while len(out) < size:
        part = f.read(min(chunk, size - len(out)))
        if not part:
            break
        out += part
    return out


def read_sha256sums(path: Path) -> dict[str, str]:
    """Parse a ``SHA256SUMS`` file into {file name: hex digest} (``*name`` binary marks allowed)."""
    sums: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LecnnError(
            f"{path}: not a text file of 'SHA256  filename' lines; fix or remove it"
        ) from None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise LecnnError(f"{path}:{lineno}: not a 'SHA256  filename' line: {line!r}")
        sums[parts[1].lstrip("*").strip()] = parts[0].lower()
    return sums
