"""KVD: unbiased polynomial-kernel MMD (TATS form) against direct formulas and torchmetrics."""

import numpy as np
import pytest
import torch
from torchmetrics.image.kid import poly_mmd

from eval.metrics import PolynomialMMDMetric, polynomial_mmd
from eval.metrics import mmd


def double_loop_mmd(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_identical_constant_sets_give_zero():
    rows = np.full((7, 400), 0.3)
    assert polynomial_mmd(rows, rows.copy()) == pytest.approx(0.0, abs=1e-12)


def test_equals_double_loop_formula_with_unequal_sizes():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 5)), rng.standard_normal((9, 5)) + 0.4
    expected = double_loop_mmd(x, y)
    assert expected > 0.01
    assert polynomial_mmd(x, y) == pytest.approx(expected, rel=1e-12)


def test_blocks_give_the_unblocked_value(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((23, 4)), rng.standard_normal((17, 4))
    whole = polynomial_mmd(x, y)
    monkeypatch.setattr(mmd, "BLOCK", 5)
    assert polynomial_mmd(x, y) == pytest.approx(whole, rel=1e-12, abs=1e-14)


def test_equals_torchmetrics_kid_maths_on_one_subset():
    rng = np.random.default_rng(2)
    real, fake = rng.standard_normal((40, 16)), rng.standard_normal((40, 16)) * 1.3
    metric = PolynomialMMDMetric(dim=16)
    metric.update(pred=fake, gt=real)
    expected = poly_mmd(torch.from_numpy(real), torch.from_numpy(fake)).item()
    assert metric.compute()["kvd"] == pytest.approx(expected, rel=1e-10)


def test_needs_two_rows_per_set():
    metric = PolynomialMMDMetric(dim=3)
    metric.update(pred=np.zeros((1, 3)), gt=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        metric.compute()
