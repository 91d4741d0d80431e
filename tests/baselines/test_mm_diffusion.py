"""MM-Diffusion baseline: branch coupling, replacement sampling, determinism, training, presets, the row."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from mmgt.errors import DataError

from baselines.mm_diffusion.checkpoint import INDEX, load_run
from baselines.mm_diffusion.config import load_config
from baselines.mm_diffusion.data import Windows, load_windows, retime
from baselines.mm_diffusion.diffusion import coupled_loss, sample, sampling_scheduler, scheduler
from baselines.mm_diffusion.generate import Pipeline
from baselines.mm_diffusion.model import CoupledUNet
from baselines.mm_diffusion.sr import build_sr, sr_loss
from baselines.mm_diffusion.train import RunOptions, train

# smaller than the tiny preset so every test runs in seconds
SMALL = ("model.frames=4", "model.fps=10", "model.audio_samples=6400", "model.size=16", "model.channels=8",
         "model.head_channels=8", "sr.in_size=16", "sr.out_size=64", "sr.crop=32", "sr.channels=[8,8]",
         "diffusion.sample_steps=3", "diffusion.sr_sample_steps=2")


def small_config(*extra: str):
    return load_config("tiny", SMALL + extra)


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give the zero-initialised output layers weights so every path carries signal at init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def inputs(cfg, n: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    m = cfg.model
    return torch.randn(n, m.frames, 3, m.size, m.size, generator=g), torch.randn(n, 1, m.audio_samples, generator=g), torch.full((n,), 500)


def test_branches_exchange_information():
    cfg = small_config()
    model = randomised(CoupledUNet(cfg.model))
    video, audio, t = inputs(cfg)
    with torch.no_grad():
        ev, ea = model(video, audio, t)
        ev_a, ea_a = model(video, audio + torch.randn_like(audio), t)  # perturb the audio only
        ev_v, ea_v = model(video + torch.randn_like(video), audio, t)  # perturb the video only
    assert (ev_a - ev).abs().max() > 1e-4, "audio input does not reach the video branch"
    assert (ea_v - ea).abs().max() > 1e-4, "video input does not reach the audio branch"


def test_without_cross_attention_the_branches_are_independent():
    cfg = small_config("model.cross_attention=[]", "model.cross_windows=[]")
    model = randomised(CoupledUNet(cfg.model))
    video, audio, t = inputs(cfg)
    with torch.no_grad():
        ev, _ = model(video, audio, t)
        ev_a, _ = model(video, audio + torch.randn_like(audio), t)
    torch.testing.assert_close(ev_a, ev)


def test_window_shift_random_in_training_zero_at_eval():
    cfg = small_config("model.cross_windows=[2]")
    model = CoupledUNet(cfg.model)
    assert {model.eval().shift(2) for _ in range(20)} == {0}
    assert {model.train().shift(2) for _ in range(100)} == {0, 1, 2}  # [0, frames - window]


def test_replacement_clamps_audio_to_the_noised_real_audio_at_every_step():
    cfg = small_config("diffusion.sample_steps=5", "diffusion.eta=1.0")
    model = randomised(CoupledUNet(cfg.model))
    _, real, _ = inputs(cfg, n=2, seed=1)
    seen: list[tuple[int, torch.Tensor]] = []
    forward = model.forward
    model.forward = lambda v, a, t: (seen.append((int(t[0]), a.clone())), forward(v, a, t))[1]
    sample(model, cfg.diffusion, 2, torch.Generator().manual_seed(0), audio=real)
    sched = sampling_scheduler(cfg.diffusion, cfg.diffusion.sample_steps)
    assert [t for t, _ in seen] == sched.timesteps.tolist()
    eps = None
    for t, a in seen:  # every state the model saw is sqrt(abar) a0 + sqrt(1 - abar) eps, with one eps
        abar = sched.alphas_cumprod[t]
        e = (a - abar.sqrt() * real) / (1 - abar).sqrt()
        eps = e if eps is None else eps
        torch.testing.assert_close(e, eps, atol=2e-4, rtol=0)
    assert 0.8 < eps.std() < 1.2


def test_sampling_is_deterministic_under_a_seed():
    cfg = small_config("diffusion.eta=1.0")
    model = randomised(CoupledUNet(cfg.model))
    _, real, _ = inputs(cfg)
    run = lambda seed: sample(model, cfg.diffusion, 1, torch.Generator().manual_seed(seed), audio=real)[0]  # noqa: E731
    torch.testing.assert_close(run(3), run(3), rtol=0, atol=0)
    assert not torch.equal(run(3), run(4))


def test_each_step_clips_its_x0_prediction_so_eps_errors_cannot_compound():
    """A model that always predicts eps = 0 makes x0 = x_t / sqrt(abar): ~150x the noise at t = T.
    Clipped (the release's clip_denoised), every state stays a mix of [-1, 1] and unit noise."""
    cfg = small_config()

    class ZeroEps(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cfg, self.w = cfg.model, torch.nn.Parameter(torch.zeros(1))

        def forward(self, video, audio, t):
            return torch.zeros_like(video), torch.zeros_like(audio)

    seen = []
    video, _ = sample(ZeroEps(), cfg.diffusion, 2, torch.Generator().manual_seed(0),
                      on_step=lambda t, v, a: seen.append(float(v.abs().max())))
    assert video.abs().max() <= 1 + 1e-5 and max(seen[1:]) < 6


def test_unconditional_sampling_generates_both_modalities():
    cfg = small_config()
    video, audio = sample(randomised(CoupledUNet(cfg.model)), cfg.diffusion, 1, torch.Generator().manual_seed(0))
    m = cfg.model
    assert video.shape == (1, m.frames, 3, m.size, m.size) and audio.shape == (1, 1, m.audio_samples)
    assert torch.isfinite(video).all() and torch.isfinite(audio).all()


def test_retime_nearest_frame_in_time():
    assert retime(8, 25, 10, 100).tolist() == [0, 3, 5, 8, 10, 13, 15, 18]  # 10 fps frames from 25 fps
    assert retime(6, 10, 25, 2).tolist() == [0, 0, 1, 1, 1, 1]  # 25 fps from 10 fps, clipped to the last


@pytest.fixture(scope="module")
def windows(tiny_split):
    return load_windows(str(tiny_split), small_config())


def test_windows_from_the_split(windows, tiny_split):
    cfg = small_config()
    # 4 train clips of 3.2 s at 10 fps: 32 frames each, 8 windows of 4 frames each
    assert windows.video.shape == (32, 4, 3, 16, 16) and windows.audio.shape == (32, 1, 6400)
    assert windows.high.shape == (4 * 32, 3, 64, 64) and windows.high.dtype == torch.uint8
    high, low = windows.sr_pairs(torch.tensor([0]), cfg)
    assert high.shape == (1, 3, 64, 64) and low.shape == (1, 3, 16, 16)
    torch.testing.assert_close(low[0], windows.video[0, 0], atol=1 / 127.5, rtol=0)  # same frame, same downsampling


def fixed_losses(cfg, models: dict, batch) -> dict[str, float]:
    """Both models' losses on one batch at fixed timesteps and noise (8 draws)."""
    sched = scheduler(cfg.diffusion)
    g = torch.Generator().manual_seed(123)
    high, low = batch.sr_pairs(torch.arange(len(batch.high)), cfg)
    with torch.no_grad():
        return {
            "coupled": np.mean([float(coupled_loss(models["coupled"], sched, batch.video, batch.audio, g)[0]) for _ in range(8)]),
            "sr": np.mean([float(sr_loss(models["sr"], sched, high, low, g)[0]) for _ in range(8)]),
        }


def initial_models(cfg) -> dict:
    """The models as training initialises them (seeded with train.seed / sr_train.seed)."""
    torch.manual_seed(cfg.train.seed)
    coupled = CoupledUNet(cfg.model).eval()
    torch.manual_seed(cfg.sr_train.seed)
    return {"coupled": coupled, "sr": build_sr(cfg.sr).eval()}


def test_training_lowers_both_losses_and_resumes(windows, tmp_path):
    batch = Windows(windows.video[:2], windows.audio[:2], windows.high[:2])  # one fixed batch
    steps = ("train.steps=30", "train.batch_size=2", "train.lr=0.002", "train.log_every=5", "train.checkpoint_every=15",
             "sr_train.steps=30", "sr_train.batch_size=2", "sr_train.lr=0.002", "sr_train.log_every=5", "sr_train.checkpoint_every=15")
    cfg = small_config(*steps)
    before = fixed_losses(cfg, initial_models(cfg), batch)
    run = train(cfg, RunOptions(out=str(tmp_path / "run"), progress=False), windows=batch)
    trained = Pipeline.load(run)
    after = fixed_losses(cfg, {"coupled": trained.coupled, "sr": trained.sr}, batch)
    for name in ("coupled", "sr"):
        assert after[name] < 0.8 * before[name], (name, before, after)
        assert len((run / name / "losses.csv").read_text().splitlines()) == 1 + 6
        assert (run / name / "loss.png").stat().st_size > 0
    index = json.loads((run / INDEX).read_text())
    assert {k: v["step"] for k, v in index["models"].items()} == {"coupled": 30, "sr": 30}
    assert load_run(run)[0] == cfg

    # resume: a longer schedule continues from step 30 and keeps the logged rows
    longer = small_config(*steps, "train.steps=35", "sr_train.steps=35")
    train(longer, RunOptions(out=str(run), progress=False), windows=batch)
    assert len((run / "coupled" / "losses.csv").read_text().splitlines()) == 1 + 7
    assert json.loads((run / INDEX).read_text())["models"]["sr"]["step"] == 35

    # a run folder of another configuration is refused, and so is a tampered weights file
    with pytest.raises(DataError, match="another configuration"):
        train(small_config(*steps, "model.channels=16"), RunOptions(out=str(run), models=("coupled",), progress=False), windows=batch)
    with open(run / "sr.safetensors", "r+b") as fh:
        fh.seek(-4, 2)
        fh.write(b"\0\0\0\1")
    with pytest.raises(DataError, match="sha256"):
        load_run(run)


def test_resumed_steps_equal_uninterrupted_steps_bit_for_bit(windows, tmp_path):
    """Both models: 4 steps, then 2 resumed, give the bits of 6 uninterrupted steps (exported EMA weights,
    weights, AdamW moments, EMA and RNG of the last checkpoint); 6 items in batches of 2 make 3 batches
    an epoch, so the resume lands inside one."""
    from tests.training_state import assert_same_state

    six = Windows(windows.video[:6], windows.audio[:6], windows.high[:6])
    sets = [f"{t}.{k}" for t in ("train", "sr_train") for k in ("batch_size=2", "log_every=1", "checkpoint_every=4")]

    def trained(out, steps: int):
        cfg = small_config(*sets, f"train.steps={steps}", f"sr_train.steps={steps}")
        return train(cfg, RunOptions(out=str(out), progress=False), windows=six)

    trained(tmp_path / "resumed", 4)
    resumed, straight = trained(tmp_path / "resumed", 6), trained(tmp_path / "straight", 6)
    assert_same_state(resumed, straight, files=("*.safetensors",))
    for name in ("coupled", "sr"):
        assert_same_state(resumed / name / "checkpoints" / "step-000006", straight / name / "checkpoints" / "step-000006")
        assert (resumed / name / "losses.csv").read_text() == (straight / name / "losses.csv").read_text()


def test_paper_preset_shapes():
    cfg = load_config("paper")
    m = cfg.model
    assert (m.frames, m.size, m.fps, m.audio_samples, m.sample_rate) == (16, 64, 10.0, 25600, 16000)
    assert (cfg.sr.in_size, cfg.sr.out_size) == (64, 256)
    with torch.device("meta"):
        model = CoupledUNet(m)
        video, audio = torch.empty(1, 16, 3, 64, 64), torch.empty(1, 1, 25600)
        ev, ea = model(video, audio, torch.zeros(1, dtype=torch.long))
    assert ev.shape == video.shape and ea.shape == audio.shape
    n = sum(p.numel() for p in model.parameters())
    assert 50e6 < n < 300e6, n


def test_method_generates_80_frames_at_256(tiny_split):
    from mmgt.data.layout import Split
    from mmgt.methods.base import MethodConfig
    from mmgt.methods.registry import build_method
    from mmgt.methods.runner import conditions

    cfg = small_config("sr.out_size=256", "sr.crop=64", "model.frames=16", "model.audio_samples=25600")
    method = build_method("mm-diffusion", MethodConfig(seed=1))
    method.__dict__["pipeline"] = Pipeline.random_init(cfg)
    cond = conditions(Split(tiny_split).clips("test")[0], driven_by="audio")
    frames = method.generate(cond).frames
    assert frames.shape == (80, 256, 256, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[0], frames[1])  # 25 fps from 10 fps: frames 0 and 1 show native frame 0
    prov = method.provenance()
    assert prov["driven_by"] == "audio" and "ref_image" in prov["ignores"] and prov["checkpoint"] == "random-init"

    # clips of another size get the model's square frames resized to theirs
    method.__dict__["pipeline"] = Pipeline.random_init(small_config())
    other = dataclasses.replace(cond, n_frames=10, ref_image=np.zeros((48, 80, 3), np.uint8))
    assert method.generate(other).frames.shape == (10, 48, 80, 3)


def test_method_without_a_trained_model_names_the_run_folder(tmp_path):
    from mmgt.methods.base import MethodConfig

    from baselines.mm_diffusion.method import MMDiffusion

    method = MMDiffusion(MethodConfig(checkpoint=tmp_path / "missing"))
    with pytest.raises(DataError, match="mm-diffusion"):
        method.pipeline
