"""``mmgt-eval check``: an integrity pass over a prediction folder and its ground truth.

It reads every file of every pair through the evaluation loop's own reader
(:meth:`eval.harness.Evaluator.read_inputs`), so a clip passes ``check`` exactly when a run with
the same settings can score it; unlike a run, it reports every problem of a clip, not the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eval.config import EvalConfig
from eval.harness import Evaluator
from eval.inputs import resize_note
from eval.pairing import discover, pair
from mmgt.errors import DataError


@dataclass
class CheckReport:
    """Problems (each makes a run incomplete) and notes (what a run will do about sizes, extra clips)."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_pairs(config: EvalConfig) -> CheckReport:
    """Pairing, then every input file of every pair (videos, keypoints, audio when lip sync is scored)."""
    ev = Evaluator(config)
    pairing = pair(discover(config.pred, config.split), discover(config.gt, config.split))
    report = CheckReport(problems=[f"missing prediction: {cid}" for cid in pairing.missing])
    report.notes += [f"extra prediction (no GT, not scored): {cid}" for cid in pairing.extra]
    for p, g in pairing.pairs:
        problems: list[DataError] = []
        inputs = ev.read_inputs(p, g, problems)
        report.problems += [f"{g.clip_id}: {err}" for err in problems]
        note = inputs and resize_note(inputs.pred_size, inputs.gt_size, config.protocol.size)
        if note:
            report.notes.append(f"{g.clip_id}: pred {note['pred'][0]}x{note['pred'][1]}, GT {note['gt'][0]}x{note['gt'][1]}: "
                                f"resized to {note['to'][0]}x{note['to'][1]}"
                                + (" (aspect ratio changed)" if note.get("aspect_changed") else ""))
    return report
