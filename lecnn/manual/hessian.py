"""The diagonal Gauss–Newton second-derivative pass of LeCun et al. 1998 (Appendix C), used by
stochastic diagonal Levenberg–Marquardt (``SDLM``).

It runs back through the network like the gradient pass, carrying ``d2y ≈ ∂²E/∂y²`` per unit and
dropping every off-diagonal term and every term in g'' (which keeps the estimates positive):

- through an activation:  ``∂²E/∂in² ≈ g'(in)² · ∂²E/∂a²``
- through weights:        ``∂²E/∂w_ij² ≈ a_i² · ∂²E/∂in_j²``, ``∂²E/∂a_i² ≈ Σ_j w_ij² ∂²E/∂in_j²``

Each layer writes its own step (``Layer.backward_curvature``) and each loss its own start
(``Loss.curvature``); this module only runs them.
"""

from __future__ import annotations

import torch

from lecnn.manual.base import Loss, Sequential


def diagonal_hessian(
    net: Sequential,
    loss: Loss,
    x: torch.Tensor,
    target: torch.Tensor,
    per_example: bool = False,
) -> dict[str, torch.Tensor]:
    """Gauss–Newton estimates of ``∂²E/∂w²`` for every parameter of ``net`` on the batch
    (x, target), keyed like ``net.named_params()``: of the loss as it is (summed or averaged over
    the batch), or with ``per_example`` the per-example average SDLM uses (the paper's: "the
    average over the samples") whichever way the loss reduces."""
    loss.forward(net.forward(x), target)
    net.backward_curvature(loss.curvature(), loss.backward())
    share = 1.0 / len(x) if per_example and loss.sums_examples else 1.0
    # the tree named_params() walks (nested Sequentials opened), so the keys are its keys
    hess = dict(net.named("hess"))
    return {k: hess[k] * share if share != 1.0 else hess[k] for k in net.named_params()}
