"""Frechet distance (FID/FVD/FGD maths) against pytorch-fid."""

import warnings

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance
from scipy import linalg

from eval.metrics import FewSamplesWarning, FrechetMetric, GaussianStats, frechet_distance
from eval.metrics.frechet import trace_sqrt_product


def reference(mu1, sigma1, mu2, sigma2):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pytorch-fid passes sqrtm(disp=False)
        return calculate_frechet_distance(mu1, sigma1, mu2, sigma2)


def random_stats(rng, dim):
    a = rng.standard_normal((dim, 2 * dim))
    return rng.standard_normal(dim), a @ a.T / (2 * dim)


@pytest.mark.parametrize("dim", [2, 7, 64])
def test_equals_pytorch_fid_on_random_stats(dim):
    rng = np.random.default_rng(dim)
    (mu1, s1), (mu2, s2) = random_stats(rng, dim), random_stats(rng, dim)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference(mu1, s1, mu2, s2), rel=1e-6)


@pytest.mark.parametrize(("dim", "n"), [(96, 40), (96, 500)])
def test_equals_pytorch_fid_on_sample_covariances(dim, n):
    """Fewer samples than dimensions (singular covariances, FID on a small split) and more."""
    rng = np.random.default_rng(n)
    mix = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    a = np.maximum(rng.standard_normal((n, dim)) @ mix, 0)  # non-negative, correlated: like pool3 features
    b = np.maximum(rng.standard_normal((n + 7, dim)) @ (mix + 0.2 * rng.standard_normal((dim, dim)) / np.sqrt(dim)), 0)
    stats = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    assert frechet_distance(*stats) == pytest.approx(reference(*stats), rel=1e-6)


def test_trace_sqrt_product_of_rank_deficient_covariances_is_as_exact_as_sqrtm():
    """Rank-deficient sample covariances: the exact Tr sqrt(S1 S2) is the nuclear norm of
    X1c X2c^T / sqrt((n1-1)(n2-1)); ours equals it to rounding, scipy's sqrtm only to ~1e-8."""
    rng = np.random.default_rng(4)
    x1, x2 = rng.standard_normal((20, 64)), rng.standard_normal((30, 64)) + 1
    c1, c2 = x1 - x1.mean(0), x2 - x2.mean(0)
    exact = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt(19 * 29)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    ours = trace_sqrt_product(s1, s2)
    assert ours == pytest.approx(exact, rel=1e-12)
    assert abs(ours - exact) < abs(np.trace(linalg.sqrtm(s1 @ s2)).real - exact) / 100
    assert frechet_distance(np.zeros(64), s1, np.zeros(64), s1) == pytest.approx(0.0, abs=1e-12)  # a set against itself


def test_trace_sqrt_product_keeps_small_real_components():
    """Full-rank covariances whose spectra fall to 1e-10: the product's smallest eigenvalues are real but
    below rounding level once squared (an eigen form of R1 S2 R1 lost 1.6e-7 of the trace here)."""
    rng = np.random.default_rng(5)
    dim, n = 128, 400
    spread = np.logspace(0, -5, dim)
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    x1 = (rng.standard_normal((n, dim)) * spread) @ basis.T
    x2 = (rng.standard_normal((n + 9, dim)) * spread * 1.2) @ basis.T
    c1, c2 = x1 - x1.mean(0), x2 - x2.mean(0)
    exact = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt((n - 1) * (n + 8))
    ours = trace_sqrt_product(np.cov(x1, rowvar=False), np.cov(x2, rowvar=False))
    assert ours == pytest.approx(exact, rel=1e-12)


def test_metric_equals_pytorch_fid_on_features():
    rng = np.random.default_rng(1)
    pred = rng.standard_normal((300, 32)) @ rng.standard_normal((32, 32)) + 0.5
    gt = rng.gamma(2.0, size=(250, 32))
    metric = FrechetMetric("fvd", dim=32)
    metric.update(pred=pred[:100], gt=gt)
    metric.update(pred=pred[100:])
    expected = reference(pred.mean(0), np.cov(pred, rowvar=False), gt.mean(0), np.cov(gt, rowvar=False))
    assert metric.compute()["fvd"] == pytest.approx(expected, rel=1e-6)
    assert metric.diagnostics() == {"n_pred": 300, "n_gt": 250}


def test_fid_test_vector_2048():
    dim = 2048
    assert frechet_distance(np.zeros(dim), np.eye(dim), np.ones(dim), np.eye(dim)) == pytest.approx(2048.0, abs=1e-9)


def test_identical_sets_give_zero():
    features = np.random.default_rng(2).standard_normal((400, 16))
    metric = FrechetMetric("fid", dim=16)
    metric.update(pred=features, gt=features[::-1])
    assert abs(metric.compute()["fid"]) < 1e-9


def test_gaussian_stats_mean_unbiased_cov_and_merge():
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((50, 6)) * 3 + 10
    merged = GaussianStats.of(rows[:20]) + GaussianStats.of(rows[20:]) + GaussianStats.empty(6)
    assert merged.n == 50
    np.testing.assert_allclose(merged.mean(), rows.mean(0), rtol=1e-13)
    np.testing.assert_allclose(merged.cov(), np.cov(rows, rowvar=False), rtol=1e-11)


def test_few_samples_warn_and_are_recorded():
    rng = np.random.default_rng(4)
    metric = FrechetMetric("fid", dim=8)
    metric.update(pred=rng.standard_normal((5, 8)), gt=rng.standard_normal((20, 8)))
    with pytest.warns(FewSamplesWarning, match="n_pred = 5 < dim 8"):
        metric.compute()
    assert metric.diagnostics()["n_pred"] == 5


def test_bad_features_are_rejected():
    metric = FrechetMetric("fid", dim=8)
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        metric.update(pred=np.zeros((4, 7)))
    with pytest.raises(ValueError, match="NaN"):
        metric.update(gt=np.full((4, 8), np.nan))
    metric.update(pred=np.zeros((1, 8)), gt=np.zeros((3, 8)))
    with pytest.raises(ValueError, match="at least 2 samples"), pytest.warns(FewSamplesWarning):
        metric.compute()
