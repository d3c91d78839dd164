"""Losses: the lecture's squared error, softmax cross-entropy and LeNet-5's RBF criterion."""

from __future__ import annotations

import torch

from lecnn.manual.base import Loss


class MSELoss(Loss):
    """The lecture's squared error ``Loss = Σ_k (y_k − a_k)²`` (``reduction="sum"``), its half
    ``½ Σ_k (y_k − a_k)²`` (``reduction="half"``, the ``edist-cost`` of the authors' LeNet-5 code,
    barak/lush packages/gblearn2/gb-modules.lsh:942–963), or its mean over all N·K entries
    (``reduction="mean"``, as ``F.mse_loss``).

    Forward  ``Err_k = y_k − a_k``; ``Loss = c Σ Err_k²``, c = 1, ½ or 1/(N·K)
    Backward ``∂Loss/∂a_k = −2c Err_k``. Passed back through the output unit's activation this is
    ``−2c Err_k g'(in_k) = −2c Δ_k``: the lecture's output delta ``Δ_k = Err_k · g'(in_k)``
    (exactly, for the half: the lecture's loss is the ½Σ one).
    Curvature ``∂²Loss/∂a_k² = 2c`` (1 for the half, as the Lush code's ``bbprop`` sets it).
    Shapes: pred a N×K, target y N×K → scalar.
    """

    #: reduction → c
    FACTORS = {"sum": 1.0, "half": 0.5}

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", *self.FACTORS):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'half', not {reduction!r}")
        self.reduction = reduction
        self.sums_examples = reduction != "mean"

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self.err = target - pred  # Err_k
        loss = (self.err * self.err).sum()
        if self.reduction == "mean":
            return loss / self.err.numel()
        return loss * self.FACTORS[self.reduction]

    def _scale(self) -> float:
        """2c: the factor of ∂Loss/∂a_k = −2c·Err_k and of ∂²Loss/∂a_k²."""
        if self.reduction == "mean":
            return 2.0 / self.err.numel()
        return 2.0 * self.FACTORS[self.reduction]

    def backward(self) -> torch.Tensor:
        return -self._scale() * self.err

    def curvature(self) -> torch.Tensor:
        return torch.full_like(self.err, self._scale())


class SoftmaxCrossEntropy(Loss):
    """Softmax and cross-entropy fused, mean over the batch (as ``F.cross_entropy``).

    Forward  ``p_k = e^{z_k} / Σ_m e^{z_m}``, ``Loss = −(1/N) Σ_n log p_{n, y_n}``
    Backward ``∂Loss/∂z_k = (p_k − [k = y_n]) / N``
    Shapes: logits z N×K, target y N (class indices) → scalar.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_p = torch.log_softmax(pred, dim=1)
        self.p = log_p.exp()
        self.target = target
        return -log_p.gather(1, target.view(-1, 1)).mean()

    def backward(self) -> torch.Tensor:
        dz = self.p.clone()
        dz[torch.arange(len(self.target), device=dz.device), self.target] -= 1.0
        return dz / len(self.target)

    def curvature(self) -> torch.Tensor:
        """``∂²Loss/∂z_k² = p_k (1 − p_k) / N``."""
        return self.p * (1 - self.p) / len(self.target)


class RBFLoss(Loss):
    """LeNet-5's discriminative criterion on RBF distances (LeCun et al. 1998, eq. 9), mean over
    the batch: it pulls the correct class's penalty down and pushes the others up, with a constant
    ``j`` that keeps penalties already large from being pushed further.

    Forward  ``E = (1/N) Σ_n [ y_{D_n} + log(e^{−j} + Σ_i e^{−y_i}) ]``
    Backward ``∂E/∂y_i = ([i = D_n] − e^{−y_i} / (e^{−j} + Σ_k e^{−y_k})) / N``
    Shapes: penalties y N×I, target D N (class indices) → scalar.
    """

    def __init__(self, j: float = 0.1) -> None:
        self.j = float(j)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n = pred.shape[0]
        const = torch.full((n, 1), -self.j, dtype=pred.dtype, device=pred.device)
        logits = torch.cat([const, -pred], dim=1)  # log-sum-exp over e^{−j} and e^{−y_i}
        lse = torch.logsumexp(logits, dim=1)
        self.q = torch.exp(-pred - lse.unsqueeze(1))
        self.target = target
        return (pred.gather(1, target.view(-1, 1)).squeeze(1) + lse).mean()

    def backward(self) -> torch.Tensor:
        dy = -self.q
        dy[torch.arange(len(self.target), device=dy.device), self.target] += 1.0
        return dy / len(self.target)

    def curvature(self) -> torch.Tensor:
        """``∂²E/∂y_i² = q_i (1 − q_i) / N``."""
        return self.q * (1 - self.q) / len(self.target)
