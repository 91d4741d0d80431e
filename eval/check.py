"""``mmgt-eval check``: an integrity pass over a prediction folder and its ground truth."""

from __future__ import annotations

from pathlib import Path

from eval.pairing import discover, pair
from mmgt.errors import DataError
from mmgt.video_io import FPS, probe


def check_pairs(pred: Path, gt: Path, split: str = "test") -> list[str]:
    """One line per problem: unpaired clips, unreadable videos, fps, frame-count or size mismatches."""
    pairing = pair(discover(pred, split), discover(gt, split))
    problems = [f"missing prediction: {cid}" for cid in pairing.missing]
    problems += [f"extra prediction (no GT): {cid}" for cid in pairing.extra]
    for p, g in pairing.pairs:
        try:
            pi, gi = probe(p.video), probe(g.video)
        except DataError as err:
            problems.append(f"unreadable: {err}")
            continue
        for info, path in ((pi, p.video), (gi, g.video)):
            if abs(info.fps - FPS) > 1e-3:
                problems.append(f"{path}: {info.fps:g} fps, expected {FPS}")
        if pi.n_frames != gi.n_frames:
            problems.append(f"{p.video}: {pi.n_frames} frames, GT has {gi.n_frames}")
        if (pi.width, pi.height) != (gi.width, gi.height):
            problems.append(f"{p.video}: {pi.width}x{pi.height}, GT is {gi.width}x{gi.height} (both are resized to the protocol size)")
    return problems
