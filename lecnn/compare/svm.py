"""A support vector machine with a polynomial kernel (LeCun et al. 1998's "SVM poly 4" row),
from scikit-learn: libsvm's one-vs-one SVC, trained on the pixels scaled to [0, 1]."""

from __future__ import annotations

import time

import torch

from lecnn.errors import LecnnError


def fit_predict(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    degree: int = 4,
    C: float = 10.0,
) -> tuple[torch.Tensor, float, float, int]:
    """Train an SVC with kernel ``(γ x·x′ + 1)^degree`` (γ = 1/(D·var x), scikit-learn's "scale")
    on flattened images, predict ``test_x``. Returns (predictions, training seconds,
    milliseconds per test digit, support vectors)."""
    try:
        from sklearn.svm import SVC
    except ImportError:  # a declared dependency, but a trimmed environment may lack it
        raise LecnnError(
            "the SVM row needs scikit-learn: pip install scikit-learn (lecnn declares it)"
        ) from None
    x = train_x.reshape(len(train_x), -1).double().cpu().numpy()
    q = test_x.reshape(len(test_x), -1).double().cpu().numpy()
    svm = SVC(kernel="poly", degree=degree, gamma="scale", coef0=1.0, C=C, cache_size=1000)
    start = time.perf_counter()
    svm.fit(x, train_y.cpu().numpy())
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    pred = torch.from_numpy(svm.predict(q)).to(torch.int64)
    ms = (time.perf_counter() - start) * 1000 / max(len(q), 1)
    return pred, seconds, ms, int(svm.n_support_.sum())
