"""MM-HAA: zero-init adapters, masked audio influence, one branch-weight path, Table III switches, still masks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from mmgt import keypoints as K
from mmgt.masks import motion_masks
from mmgt.stage2.audio_attention import (BRANCHES, AudioAttentionConfig, MMHAABlock, audio_attention_paths,
                                         branch_masks, frame_windows)
from mmgt.stage2.mmgt_model import MMGTModel, load_mmgt, save_mmgt
from mmgt.errors import DataError
from mmgt.stage2.checkpoint import load_model, save_model
from mmgt.stage2.model import make_scheduler

from .conftest import build
from .test_backbone import inputs

TINY_AUDIO = AudioAttentionConfig(feature_kind="baseline", feature_layers=1, feature_dim=35, tokens=4, hidden=16)
WEIGHTS = (1.0, 1.0, 1.0)


def randomise(block: MMHAABlock, seed: int = 0) -> MMHAABlock:
    g = torch.Generator().manual_seed(seed)
    for conv in block.adapters:
        conv.weight.data = torch.randn(conv.weight.shape, generator=g) * 0.3
    return block


def block_inputs(seed: int = 0, n: int = 2, c: int = 8, h: int = 8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, h, h, generator=g), torch.randn(n, 4, 16, generator=g)


def half_mask(n: int = 2, h: int = 8) -> torch.Tensor:
    """Branch k's mask is 1 on the left half for every branch; the right half is outside every mask."""
    m = torch.zeros(n, 3, h, h)
    m[..., : h // 2] = 1.0
    return m


def band_masks(n: int = 2, h: int = 8) -> torch.Tensor:
    """Branch k's mask is 1 on its own band of columns [2k, 2k + 2); columns 6.. are outside every mask."""
    m = torch.zeros(n, 3, h, h)
    for k in range(3):
        m[:, k, :, 2 * k : 2 * k + 2] = 1.0
    return m


def test_zero_init_adapters_leave_the_hidden_states_unchanged():
    torch.manual_seed(0)
    block = MMHAABlock(8, 16, heads=2)
    hidden, tokens = block_inputs()
    torch.testing.assert_close(block(hidden, tokens, half_mask(), WEIGHTS), hidden, atol=0, rtol=0)


def test_zero_init_audio_modules_leave_the_model_unchanged(small_cfg):
    model = build(small_cfg)
    x = inputs(small_cfg, frames=3)
    with torch.no_grad():
        base = model(**x, keep=torch.tensor([True, True]))
        mm = MMGTModel.from_backbone(model, replace(TINY_AUDIO, placement="all"))
        windows = torch.randn(2, 3, 5, 1, 35)
        masks = torch.rand(2, 3, 3, 16, 16)
        out = mm(**x, keep=torch.tensor([True, True]), audio_windows=windows, masks=masks)
    torch.testing.assert_close(out, base, atol=0, rtol=0)


@pytest.mark.parametrize("branch", range(len(BRANCHES)))
def test_audio_changes_the_output_inside_its_own_branch_mask_only(branch):
    """Distinct masks per branch: a swap of branches, masks or weights moves the change to another band."""
    torch.manual_seed(0)
    block = randomise(MMHAABlock(8, 16, heads=2))
    weights = tuple(1.0 if k == branch else 0.0 for k in range(3))  # one branch at a time
    hidden, tokens = block_inputs()
    masks = band_masks()
    a = block(hidden, tokens, masks, weights)
    b = block(hidden, tokens + torch.randn_like(tokens), masks, weights)
    diff = (a - b).abs()
    inside = masks[:, branch : branch + 1].expand_as(diff).bool()
    assert diff[inside].amin() > 0 and diff[inside].mean() > 1e-3  # everywhere inside its mask
    assert diff[~inside].amax() == 0  # outside it (the other branches' bands included) exactly unchanged


def test_branch_masks_are_background_face_hands_and_lips_in_branch_order():
    """``branch_masks``' channels are (M_bg, M_fh, M_lip) for the branches (full, face, lip)."""
    assert BRANCHES == ("full", "face", "lip")
    kp = figure_pose()
    masks = branch_masks(kp, (64, 64), "motion")
    regions = motion_masks(kp, (64, 64))

    def overlap(region: np.ndarray) -> list[float]:
        """Each channel's correlation with a binary region (at the masks' working size)."""
        binary = torch.nn.functional.interpolate(torch.from_numpy(region.astype(np.float32))[:, None], size=masks.shape[-1])
        return [float(np.corrcoef(masks[:, c].ravel(), binary.numpy().ravel())[0, 1]) for c in range(3)]

    np.testing.assert_allclose(masks[:, 0], 1 - masks[:, 1], atol=1e-6)
    assert np.argmax(overlap(regions.face_hands)) == 1 and np.argmax(overlap(regions.lips)) == 2


# ----- Table III switches ----------------------------------------------------------------------
def test_without_mask_ignores_masks_and_changes_nothing_else():
    torch.manual_seed(0)
    masked = randomise(MMHAABlock(8, 16, heads=2))
    unmasked = MMHAABlock(8, 16, heads=2, mask=False)
    unmasked.load_state_dict(masked.state_dict())  # same parameters: only the multiplication differs
    hidden, tokens = block_inputs()
    ones = torch.ones(2, 3, 8, 8)
    torch.testing.assert_close(unmasked(hidden, tokens, half_mask(), WEIGHTS), masked(hidden, tokens, ones, WEIGHTS))
    assert (unmasked(hidden, tokens, half_mask(), WEIGHTS) - masked(hidden, tokens, half_mask(), WEIGHTS)).abs().max() > 1e-3


def test_without_audio_is_self_attention_with_the_same_masks_and_adapters():
    torch.manual_seed(0)
    block = randomise(MMHAABlock(8, 16, heads=2, audio=False))
    assert all(not attn.is_cross_attention for attn in block.attentions)
    hidden, tokens = block_inputs()
    a = block(hidden, tokens, half_mask(), WEIGHTS)
    torch.testing.assert_close(block(hidden, torch.randn_like(tokens), half_mask(), WEIGHTS), a, atol=0, rtol=0)
    assert (a - hidden)[..., 4:].abs().amax() == 0  # the masks still apply
    audio = MMHAABlock(8, 16, heads=2)
    differ = {k for k, v in audio.state_dict().items() if block.state_dict()[k].shape != v.shape}
    assert differ and all(k.split(".")[-2] in ("to_k", "to_v") for k in differ)  # only keys/values' input width


def test_config_switches_build_exactly_the_named_variant(small_cfg):
    base = MMGTModel.from_backbone(build(small_cfg), TINY_AUDIO)
    variants = {"masks=none": replace(TINY_AUDIO, masks="none"), "audio=False": replace(TINY_AUDIO, audio=False),
                "masks=still": replace(TINY_AUDIO, masks="still")}
    for name, cfg in variants.items():
        other = MMGTModel.from_backbone(build(small_cfg), cfg)
        assert list(other.audio.blocks) == list(base.audio.blocks)
        flags = [(b.audio, b.mask) for b in other.audio.blocks.values()]
        expected = {"masks=none": (True, False), "audio=False": (False, True), "masks=still": (True, True)}[name]
        assert set(flags) == {expected}, name


def test_placement_down_or_all(small_cfg):
    unet = build(small_cfg).denoiser
    down, every = audio_attention_paths(unet, "down"), audio_attention_paths(unet, "all")
    assert down and all(p.startswith("down_blocks") for p in down)
    assert any(p.startswith("mid_block") for p in every) and any(p.startswith("up_blocks") for p in every)
    assert set(down) < set(every)
    with pytest.raises(ValueError, match="placement"):
        replace(TINY_AUDIO, placement="middle")


# ----- masks -------------------------------------------------------------------------------------
def moving_pose(frames: int = 6) -> np.ndarray:
    kp = np.zeros((frames, K.NUM_JOINTS, 3), dtype=np.float32)
    for t in range(frames):
        kp[t, list(K.FACE), :2] = [20 + 6 * t, 20]
        kp[t, list(K.FACE)[:5], :2] += 3
        kp[t, list(K.LEFT_HAND), :2] = [40, 10 + 7 * t]
        kp[t, :, 2] = 1.0
    return kp


def figure_pose(frames: int = 2, size: int = 64) -> np.ndarray:
    """A figure with its regions apart on a ``size`` frame: face box, lips inside it, two hands, a body below."""
    rng = np.random.default_rng(0)
    kp = np.zeros((frames, K.NUM_JOINTS, 3), dtype=np.float32)
    for joints, (x0, y0, x1, y1) in ((K.BODY, (0.2, 0.45, 0.8, 0.95)), (K.FACE, (0.35, 0.1, 0.65, 0.4)),
                                     (K.LIPS, (0.45, 0.3, 0.55, 0.35)), (K.LEFT_HAND, (0.05, 0.5, 0.2, 0.65)),
                                     (K.RIGHT_HAND, (0.8, 0.5, 0.95, 0.65))):
        kp[:, list(joints), 0] = rng.uniform(x0, x1, len(joints)) * size
        kp[:, list(joints), 1] = rng.uniform(y0, y1, len(joints)) * size
    kp[..., 2] = 1.0
    return kp


def test_still_mask_is_the_union_of_the_per_frame_masks():
    kp = moving_pose()
    masks = motion_masks(kp, (64, 64))
    still = masks.still()
    for name in ("face", "lips", "left_hand", "right_hand", "body"):
        union = getattr(masks, name).any(0)
        assert all((getattr(still, name)[t] == union).all() for t in range(len(kp)))
    assert not (masks.face_hands[0] == masks.face_hands[-1]).all()  # the per-frame masks do move
    motion, static = branch_masks(kp, (64, 64), "motion"), branch_masks(kp, (64, 64), "still")
    assert motion.shape == static.shape == (len(kp), 3, 64, 64)
    assert np.allclose(static, static[:1]) and not np.allclose(motion, motion[:1])
    torch.testing.assert_close(torch.from_numpy(branch_masks(kp, (64, 64), "none")), torch.from_numpy(motion))


def test_frame_windows_replicate_the_edges():
    x = torch.arange(4.0)[:, None]
    w = frame_windows(x, 5)
    assert w.shape == (4, 5, 1)
    assert w[0, :, 0].tolist() == [0, 0, 0, 1, 2] and w[3, :, 0].tolist() == [1, 2, 3, 3, 3]


# ----- one path for the branch weights -----------------------------------------------------------
def test_branch_weights_reach_the_block_identically_in_training_and_inference(small_cfg, monkeypatch, tmp_path):
    from mmgt.stage2.mmgt_pipeline import MMGTPipeline

    weights = (0.25, 1.5, 0.75)
    model = MMGTModel.from_backbone(build(small_cfg), replace(TINY_AUDIO, branch_weights=weights))
    seen: list[tuple[bool, tuple]] = []
    original = MMHAABlock.forward

    def spy(self, hidden, tokens, masks, w):
        seen.append((self.training, tuple(w)))
        return original(self, hidden, tokens, masks, w)

    monkeypatch.setattr(MMHAABlock, "forward", spy)
    x = inputs(small_cfg, frames=3)
    model.train()
    model(**x, keep=torch.tensor([True, True]), audio_windows=torch.randn(2, 3, 5, 1, 35), masks=torch.rand(2, 3, 3, 64, 64))
    folder = save_mmgt(tmp_path / "m", model, make_scheduler(small_cfg.scheduler), 0)
    pipe = MMGTPipeline.from_folder(folder)
    kp = moving_pose(4) * 4
    pipe(np.zeros((256, 256, 3), np.uint8), kp, np.random.default_rng(0).normal(size=(4, 35)).astype(np.float32),
         masks=branch_masks(kp, (256, 256)))
    modes = {training for training, _ in seen}
    assert modes == {True, False} and {w for _, w in seen} == {weights}


def test_saved_model_round_trips(small_cfg, tmp_path):
    model = MMGTModel.from_backbone(build(small_cfg), TINY_AUDIO)
    for block in model.audio.blocks.values():
        randomise(block)
    folder = save_mmgt(tmp_path / "m", model, make_scheduler(small_cfg.scheduler), 3)
    loaded, _, meta = load_mmgt(folder)
    assert loaded.audio_cfg == TINY_AUDIO and meta["step"] == 3
    for k, v in model.audio.state_dict().items():
        torch.testing.assert_close(loaded.audio.state_dict()[k], v)
    half, _, _ = load_mmgt(save_mmgt(tmp_path / "h", model, make_scheduler(small_cfg.scheduler), 3, dtype=torch.float16))
    for k, v in model.audio.state_dict().items():  # fp16 on disk, float32 in memory
        assert half.audio.state_dict()[k].dtype == torch.float32
        torch.testing.assert_close(half.audio.state_dict()[k], v.half().float())
    with pytest.raises(DataError, match="audio"):
        load_mmgt(save_model(tmp_path / "backbone", build(small_cfg), make_scheduler(small_cfg.scheduler), 0))


# ----- training ----------------------------------------------------------------------------------
def test_video_step_trains_motion_and_audio_modules_from_the_image_model(small_cfg, trained, tiny_split, tmp_path):
    from mmgt.stage2.mmgt_train import train_mmgt
    from mmgt.stage2.train import RunOptions

    opts = RunOptions(data=str(tiny_split), out=str(tmp_path), init=str(trained["image"]), steps=2, progress=False,
                      cache_dir=str(trained["run"] / "cache"))
    cfg = replace(small_cfg, train=replace(small_cfg.train, video=replace(small_cfg.train.video, frames=4, lr=1e-2)))
    folder = train_mmgt(cfg, replace(TINY_AUDIO, masks="still"), opts)
    model, _, meta = load_mmgt(folder)
    assert meta["stage"] == "video" and meta["step"] == 2 and model.video and meta["audio"] == "baseline"
    adapters = [conv.weight for b in model.audio.blocks.values() for conv in b.adapters]
    assert any(w.abs().max() > 0 for w in adapters)  # the zero-init adapters moved
    image, _, _ = load_model(trained["image"])
    for name, p in image.pose_guider.state_dict().items():  # only motion and audio modules train
        torch.testing.assert_close(model.pose_guider.state_dict()[name], p)


def test_paper_audio_projection_maps_5_x_12_wav2vec2_layers_to_32_tokens():
    from mmgt.stage2.audio_attention import AudioProjection, load_audio_config

    cfg = load_audio_config("paper")
    proj = AudioProjection(cfg, 768)
    assert proj.mlp[0].in_features == 46080 and proj.mlp[-1].out_features == 32 * 768
    windows = frame_windows(torch.randn(3, 12, 768), cfg.window)
    assert proj(windows).shape == (3, 32, 768)


def test_audio_dropout_zeroes_the_tokens_in_training_only(small_cfg):
    x = inputs(small_cfg, frames=3)
    keep = torch.tensor([True, True])
    a, b = torch.randn(2, 3, 5, 1, 35), torch.randn(2, 3, 5, 1, 35)
    masks = torch.ones(2, 3, 3, 16, 16)
    outputs = {}
    for p in (0.0, 1.0):
        model = MMGTModel.from_backbone(build(small_cfg), replace(TINY_AUDIO, audio_drop_prob=p))
        for block in model.audio.blocks.values():
            randomise(block)
        with torch.no_grad():
            model.train()
            outputs[p] = [model(**x, keep=keep, audio_windows=w, masks=masks) for w in (a, b)]
            model.eval()
            outputs[f"eval{p}"] = [model(**x, keep=keep, audio_windows=w, masks=masks) for w in (a, b)]
    torch.testing.assert_close(outputs[1.0][0], outputs[1.0][1], atol=0, rtol=0)  # dropped: the audio is not seen
    for key in (0.0, "eval1.0"):  # kept in training with p = 0, and always at inference
        assert (outputs[key][0] - outputs[key][1]).abs().max() > 1e-4
