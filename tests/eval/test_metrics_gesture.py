"""FGD and Div on gesture-autoencoder latents."""

import warnings

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance

from eval.metrics import DiversityMetric, FGDMetric


def test_fgd_is_the_frechet_distance_of_latents():
    rng = np.random.default_rng(0)
    pred, gt = rng.standard_normal((80, 10)) + 0.2, rng.standard_normal((90, 10))
    metric = FGDMetric(dim=10)
    metric.update(pred=pred, gt=gt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = calculate_frechet_distance(pred.mean(0), np.cov(pred, rowvar=False), gt.mean(0), np.cov(gt, rowvar=False))
    assert metric.compute() == {"fgd": pytest.approx(expected, rel=1e-6)}
    assert metric.directions == {"fgd": "lower"}


def test_div_is_the_ha2g_mean_l1_to_a_permuted_partner():
    rng = np.random.default_rng(1)
    pred, gt = rng.standard_normal((30, 4)), rng.standard_normal((25, 4)) * 2
    metric = DiversityMetric(dim=4, seed=3)
    metric.update(pred=pred, gt=gt)
    result = metric.compute()
    for key, rows in (("div", pred), ("div_gt", gt)):
        feat1 = rows[np.lexsort(rows.T[::-1])]
        feat2 = feat1[np.random.default_rng(3).permutation(len(rows))]
        assert result[key] == pytest.approx(np.mean(np.sum(np.absolute(feat1 - feat2), axis=-1)), rel=1e-12)
    assert result["div_gt"] > result["div"]  # gt was drawn twice as spread out


def test_div_of_identical_samples_is_zero_and_seed_is_recorded():
    metric = DiversityMetric(dim=3, seed=7)
    metric.update(pred=np.ones((5, 3)), gt=np.arange(15.0).reshape(5, 3))
    assert metric.compute()["div"] == 0.0
    assert metric.state_dict()["config.seed"] == 7
    other = DiversityMetric(dim=3, seed=8)
    with pytest.raises(ValueError, match="seed"):
        other.load_state_dict(metric.state_dict())
