"""Stage-1 loss (paper Eq. 14-18): position + velocity + acceleration, on all joints and on the face.

``L = w_gesture * (L_pos + L_vel + L_acc)[all joints] + w_face * (L_pos + L_vel + L_acc)[face joints]``
with mean squared errors on the 402-d model-space poses; official weights w_face = 3, w_gesture = 1.
``w_face = 0`` is the "w/o L_face" ablation.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from mmgt import keypoints as K


@dataclass(frozen=True)
class LossConfig:
    face_weight: float = 3.0
    gesture_weight: float = 1.0


def motion_terms(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    """MSE of positions, velocities (first differences) and accelerations (second) over ``(B, T, ...)``."""
    vel_p, vel_t = pred.diff(dim=1), target.diff(dim=1)
    return {
        "pos": (pred - target).pow(2).mean(),
        "vel": (vel_p - vel_t).pow(2).mean(),
        "acc": (vel_p.diff(dim=1) - vel_t.diff(dim=1)).pow(2).mean(),
    }


def face_values(pose: Tensor) -> Tensor:
    """``(B, T, 402)`` -> ``(B, T, 68, 3)``: the face joints 24-91."""
    return pose.unflatten(-1, (K.NUM_JOINTS, 3))[..., K.FACE[0] : K.FACE[-1] + 1, :]


def stage1_loss(pred: Tensor, target: Tensor, cfg: LossConfig = LossConfig()) -> tuple[Tensor, dict[str, float]]:
    """Total loss and its named terms (``gesture_pos``, ..., ``face_acc``) for logging."""
    terms = {f"gesture_{k}": v for k, v in motion_terms(pred, target).items()}
    terms |= {f"face_{k}": v for k, v in motion_terms(face_values(pred), face_values(target)).items()}
    total = cfg.gesture_weight * sum(terms[f"gesture_{k}"] for k in ("pos", "vel", "acc"))
    if cfg.face_weight:
        total = total + cfg.face_weight * sum(terms[f"face_{k}"] for k in ("pos", "vel", "acc"))
    return total, {k: float(v.detach()) for k, v in terms.items()}
