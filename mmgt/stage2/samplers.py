"""Inference samplers: stock diffusers schedulers on the training scheduler's noise schedule.

A model folder saves the one DDIM scheduler of training (:func:`mmgt.stage2.model.make_scheduler`);
sampling may use another solver of the same schedule (betas, zero terminal SNR, v-prediction,
trailing timesteps), built from that saved configuration so the two can never disagree. Which
solver and how many steps a preset samples with is ``inference.sampler`` / ``inference.steps``,
chosen by measurement (``make sampler-study``, docs/STAGE2.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmgt.errors import UsageError

if TYPE_CHECKING:  # diffusers loads on first use: configs validate sampler names without it
    from diffusers import DDIMScheduler
    from diffusers.schedulers.scheduling_utils import SchedulerMixin

# name -> (diffusers scheduler class, settings on top of the training schedule)
SAMPLERS: dict[str, tuple[str, dict]] = {
    "ddim": ("DDIMScheduler", {}),
    # second-order multistep DPM-Solver++ (the data-prediction form diffusers recommends for guided sampling),
    # last step to sigma 0 as DDIM's set_alpha_to_one does
    "dpm-solver++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2,
                                                   "final_sigmas_type": "zero"}),
    "unipc": ("UniPCMultistepScheduler", {"solver_order": 2, "final_sigmas_type": "zero"}),
}
# the training scheduler's keys that only DDIM reads (the others would log "ignored" on every load)
_DDIM_ONLY = ("clip_sample", "clip_sample_range", "set_alpha_to_one")


def make_sampler(name: str, training: DDIMScheduler) -> SchedulerMixin:
    """The sampler ``name`` on ``training``'s schedule; refuses an unknown name."""
    if name not in SAMPLERS:
        raise UsageError("sampler", f"unknown sampler {name!r}; one of {', '.join(SAMPLERS)}")
    import diffusers

    cls_name, settings = SAMPLERS[name]
    config = {k: v for k, v in training.config.items() if cls_name == "DDIMScheduler" or k not in _DDIM_ONLY}
    return getattr(diffusers, cls_name).from_config(config, **settings)


__all__ = ["SAMPLERS", "make_sampler"]
