"""Fixed wiring of LeCun's networks: connection tables and LeNet-5's RBF prototypes."""

from __future__ import annotations

from collections.abc import Sequence

import torch

# LeCun et al. 1998, Table I: which S2 maps (inputs) feed each C3 map. Six maps see 3 contiguous
# S2 maps, six see 4 contiguous, three see 4 discontinuous, one sees all six: 60 connections.
_C3_INPUTS = [
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (4, 5, 0),
    (5, 0, 1),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (3, 4, 5, 0),
    (4, 5, 0, 1),
    (5, 0, 1, 2),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
]


def _table(inputs: Sequence[Sequence[int]], n_in: int) -> torch.Tensor:
    table = torch.zeros(len(inputs), n_in, dtype=torch.bool)
    for o, ins in enumerate(inputs):
        table[o, list(ins)] = True
    return table


LENET5_C3 = _table(_C3_INPUTS, 6)

# LeCun et al. 1989: each of the 12 H2 maps sees 8 of the 12 H1 maps; the paper does not list
# which, so (as the public reproduction) three groups of four see H1 maps 0–7, 4–11, and 0–3 ∪ 8–11.
ZIP_H2 = _table(
    [tuple(range(0, 8))] * 4 + [tuple(range(4, 12))] * 4 + [(0, 1, 2, 3, 8, 9, 10, 11)] * 4, 12
)

# LeNet-1 (LeCun et al. 1990; the 1998 paper's comparison): its 12 third-layer maps read the 4
# subsampled maps with 20 connections, which gives the published 2,578 free parameters; which
# maps read which is not published: four read one map each, eight read two.
LENET1_C3 = _table(
    [(0,), (1,), (2,), (3,), (0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (1, 3), (0, 2), (1, 3)], 4
)

# LeNet-4 (1998, §III.C): 16 maps after 8 subsampling maps; the wiring is not published. Each map
# reads 3 of the 8 (two contiguous groups of 8 patterns), 48 connections.
LENET4_C3 = _table([(i, (i + 1) % 8, (i + 2) % 8) for i in range(8)]
                   + [(i, (i + 3) % 8, (i + 5) % 8) for i in range(8)], 8)  # fmt: skip

# LeNet-5's output prototypes (1998, Fig. 3): stylized 7×12 bitmaps of the digits, +1 ink, −1 paper.
_DIGITS = """
..###.. ...#... .####.. .####.. ....#.. ####### ..###.. ####### ..###.. ..###..
.#...#. ..##... #....#. #....#. ...##.. #...... .#..... .....#. .#...#. .#...#.
#.....# .#.#... .....#. .....#. ..#.#.. #...... #...... .....#. #.....# #.....#
#.....# ...#... .....#. .....#. .#..#.. #...... #...... ....#.. #.....# #.....#
#.....# ...#... ....#.. ..###.. #...#.. #####.. #.###.. ....#.. .#...#. #.....#
#.....# ...#... ...#... .....#. #...#.. .....#. ##...#. ...#... ..###.. .#...##
#.....# ...#... ..#.... ......# ####### ......# #.....# ...#... .#...#. ..###.#
#.....# ...#... .#..... ......# ....#.. ......# #.....# ..#.... #.....# ......#
#.....# ...#... #...... ......# ....#.. ......# #.....# ..#.... #.....# .....#.
.#...#. ...#... #...... #....#. ....#.. #....#. .#...#. .#..... #.....# ....#..
..###.. .#####. ####### .####.. ....#.. .####.. ..###.. .#..... .#...#. ..##...
....... ....... ....... ....... ....... ....... ....... ....... ..###.. .......
"""


def rbf_prototypes() -> torch.Tensor:
    """10×84 tensor: row i is digit i's 7×12 bitmap flattened row by row, values ±1."""
    rows = [line.split() for line in _DIGITS.strip().splitlines()]
    assert len(rows) == 12 and all(len(r) == 10 for r in rows)
    protos = torch.empty(10, 12, 7)
    for r, row in enumerate(rows):
        for d, cells in enumerate(row):
            assert len(cells) == 7
            protos[d, r] = torch.tensor([1.0 if c == "#" else -1.0 for c in cells])
    return protos.view(10, 84)


def random_prototypes(seed: int = 0) -> torch.Tensor:
    """10×84 random ±1 prototypes (the paper's choice for the characters it drew no bitmap for),
    the same for every run: drawn from their own generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (10, 84), generator=g).float() * 2 - 1
