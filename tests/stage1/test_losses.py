"""Stage-1 loss terms against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmgt.stage1.losses import LossConfig, stage1_loss


def hand_terms(p: np.ndarray, g: np.ndarray) -> tuple[float, float, float]:
    b, t, d = p.shape
    pos = sum((p[i, k, j] - g[i, k, j]) ** 2 for i in range(b) for k in range(t) for j in range(d)) / (b * t * d)
    vel = sum(((p[i, k + 1, j] - p[i, k, j]) - (g[i, k + 1, j] - g[i, k, j])) ** 2
              for i in range(b) for k in range(t - 1) for j in range(d)) / (b * (t - 1) * d)
    acc = sum(((p[i, k + 2, j] - 2 * p[i, k + 1, j] + p[i, k, j]) - (g[i, k + 2, j] - 2 * g[i, k + 1, j] + g[i, k, j])) ** 2
              for i in range(b) for k in range(t - 2) for j in range(d)) / (b * (t - 2) * d)
    return pos, vel, acc


@pytest.mark.parametrize("face_weight", [3.0, 0.0])
def test_loss_equals_hand_computation(face_weight):
    rng = np.random.default_rng(0)
    pred, target = rng.standard_normal((2, 4, 402)), rng.standard_normal((2, 4, 402))
    total, terms = stage1_loss(torch.from_numpy(pred), torch.from_numpy(target), LossConfig(face_weight, 1.0))
    full = hand_terms(pred, target)
    face_cols = [3 * j + c for j in range(24, 92) for c in range(3)]
    face = hand_terms(pred[..., face_cols], target[..., face_cols])
    assert terms["gesture_pos"] == pytest.approx(full[0]) and terms["gesture_vel"] == pytest.approx(full[1])
    assert terms["gesture_acc"] == pytest.approx(full[2])
    assert [terms[f"face_{k}"] for k in ("pos", "vel", "acc")] == pytest.approx(list(face))
    assert float(total) == pytest.approx(sum(full) + face_weight * sum(face))


def test_face_term_only_reacts_to_face_joints():
    target = torch.zeros(1, 5, 402)
    body_err = target.clone()
    body_err[..., 0] = 1.0  # joint 0 (nose) x
    face_err = target.clone()
    face_err[..., 3 * 30] = 1.0  # joint 30 (jaw) x
    _, t_body = stage1_loss(body_err, target)
    _, t_face = stage1_loss(face_err, target)
    assert t_body["face_pos"] == 0.0 and t_face["face_pos"] > 0.0
    assert t_body["gesture_pos"] == t_face["gesture_pos"]
