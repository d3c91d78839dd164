"""k-nearest neighbours with Euclidean distance, computed in batches on the data's device."""

from __future__ import annotations

from collections.abc import Callable

import torch


def squared_distances(queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """‖q − p‖² for every pair (Q×D, P×D → Q×P), as ‖q‖² − 2 q·p + ‖p‖² (one matrix product)."""
    return (
        (queries * queries).sum(1, keepdim=True) - 2 * queries @ points.T + (points * points).sum(1)
    )


def knn_predict(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    queries: torch.Tensor,
    k: int = 3,
    batch_size: int = 1000,
    classes: int = 10,
    distance: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = squared_distances,
) -> torch.Tensor:
    """Majority vote of the ``k`` nearest training points (flattened images) by ``distance``
    (Q×D, P×D → Q×P; default squared Euclidean); a tie goes to the tied class whose nearest member
    is closest."""
    train_x = train_x.reshape(len(train_x), -1)
    queries = queries.reshape(len(queries), -1)
    out = []
    for start in range(0, len(queries), batch_size):
        d = distance(queries[start : start + batch_size], train_x)
        dist, idx = d.topk(k, dim=1, largest=False)  # sorted nearest first
        labels = train_y[idx]
        votes = torch.zeros(len(labels), classes, device=labels.device)
        votes.scatter_add_(1, labels, torch.ones_like(labels, dtype=votes.dtype))
        # break ties by rank: the nearest neighbour of a tied class adds a little
        rank_bonus = torch.zeros_like(votes)
        rank_bonus.scatter_reduce_(
            1, labels, (k - torch.arange(k, device=labels.device, dtype=votes.dtype)).expand_as(
                labels).contiguous() / (k + 1), reduce="amax", include_self=True,
        )  # fmt: skip
        out.append((votes + rank_bonus).argmax(1))
    return torch.cat(out)
