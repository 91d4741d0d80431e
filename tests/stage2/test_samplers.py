"""Samplers: stock solvers on the training schedule, selectable per checkpoint and per call; the study's choice rule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from mmgt.errors import DataError, UsageError
from mmgt.experiments.sampler_study import COLUMNS, cell, choose, qualifies
from mmgt.stage2.config import SchedulerConfig, load_config
from mmgt.stage2.model import make_scheduler
from mmgt.stage2.pipeline import Stage2Pipeline
from mmgt.stage2.samplers import SAMPLERS, make_sampler

from .conftest import build
from .test_pipeline import clip_inputs


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("steps", [4, 10])
def test_every_sampler_recovers_the_data_from_an_exact_v_prediction(name, steps):
    # an oracle model (the exact velocity of a known x0 under the *training* schedule): a sampler whose
    # betas, zero-terminal-SNR rescale or prediction type differed from training's would not land on x0
    training = make_scheduler(SchedulerConfig())
    sampler = make_sampler(name, training)
    sampler.set_timesteps(steps)
    x0 = torch.linspace(-0.8, 0.8, 4 * 8 * 8).reshape(1, 4, 8, 8)
    x = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)) * sampler.init_noise_sigma
    abar = training.alphas_cumprod
    assert len(sampler.timesteps) == steps and int(sampler.timesteps[0]) == 999  # trailing spacing, from pure noise
    for t in sampler.timesteps:
        a, s = abar[t].sqrt(), (1 - abar[t]).sqrt()
        eps = (x - a * x0) / s
        x = sampler.step(a * eps - s * x0, t, x).prev_sample
    torch.testing.assert_close(x, x0, atol=1e-5, rtol=0)


def test_unknown_samplers_are_refused_in_configs_and_calls():
    with pytest.raises(UsageError, match="unknown sampler 'euler'; one of ddim"):
        make_sampler("euler", make_scheduler(SchedulerConfig()))
    with pytest.raises(DataError, match="inference.sampler 'euler' is not one of ddim"):
        load_config("tiny", ["inference.sampler=euler"])


def test_the_pipeline_samples_with_the_configured_solver(small_cfg, tiny_split):
    model = build(small_cfg)
    torch.nn.init.normal_(model.pose_guider.conv_out.weight, std=0.05)
    ref, poses = clip_inputs(tiny_split)
    scheduler = make_scheduler(small_cfg.scheduler)
    default = Stage2Pipeline(model, scheduler)  # the model config's sampler (the tiny preset's: DPM-Solver++)
    assert type(default.sampler).__name__ == "DPMSolverMultistepScheduler" == type(
        make_sampler(small_cfg.inference.sampler, scheduler)).__name__
    ddim = Stage2Pipeline(model, scheduler, replace(small_cfg.inference, sampler="ddim"))
    assert type(ddim.sampler).__name__ == "DDIMScheduler" and ddim.sampler.config == scheduler.config
    dpm = Stage2Pipeline(model, scheduler, replace(small_cfg.inference, sampler="dpm-solver++"))
    a, b = ddim(ref, poses, seed=1), dpm(ref, poses, seed=1)
    assert a.shape == b.shape and not np.array_equal(a, b)
    np.testing.assert_array_equal(b, dpm(ref, poses, seed=1))  # multistep state is reset per call


def _run(values: dict[tuple[str, str], float], half_width: float = 1.0) -> dict:
    return {"metrics": {r: {m: {"value": v, "ci95": [v - half_width, v + half_width]}
                            for (rr, m), v in values.items() if rr == r} for r, _ in values}}


def test_a_candidate_qualifies_only_with_every_value_inside_the_reference_interval():
    reference = _run({c: 10.0 for c in COLUMNS})
    assert qualifies(_run({c: 10.9 for c in COLUMNS}), reference)
    outside = {c: 10.0 for c in COLUMNS} | {COLUMNS[-1]: 11.2}
    assert not qualifies(_run(outside), reference)
    no_interval = _run({c: 10.0 for c in COLUMNS})
    no_interval["metrics"][COLUMNS[0][0]][COLUMNS[0][1]]["ci95"] = None
    assert not qualifies(_run({c: 10.0 for c in COLUMNS}), no_interval)
    rows = [{"steps": 30, "qualifies": True}, {"steps": 15, "qualifies": True}, {"steps": 8, "qualifies": False},
            {"steps": 10, "qualifies": True}]
    assert choose(rows)["steps"] == 10
    assert choose(rows[:1] + [{"steps": 8, "qualifies": False}]) is None


def test_a_random_init_value_is_marked_in_the_study():
    from eval.results import UNTRAINED_MARK

    assert cell({"value": 164.0, "ci95": [140.8, 194.2]}) == "164 [140.8, 194.2]"
    assert cell({"value": 12.9, "ci95": None, "untrained": True}) == f"12.9{UNTRAINED_MARK}"
