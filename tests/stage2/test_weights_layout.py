"""Pretrained parts load from the standard folder layouts (SD-1.5, sd-vae-ft-mse, sd-image-variations,
AnimateDiff motion adapter) key for key, and saved models load back key for key. Tiny widths: the
layout is what is tested."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mmgt.errors import WeightsMissingError
from mmgt.stage2.checkpoint import load_model, save_model
from mmgt.stage2.config import PretrainedConfig
from mmgt.stage2.model import Stage2Model, build_image_encoder, build_motion_adapter, build_unet, build_vae, make_scheduler


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], atol=0, rtol=0, msg=key)


@pytest.fixture
def weights_dir(small_cfg, tmp_path):
    """Random-init parts saved where the weights manifest expects the real downloads."""
    torch.manual_seed(11)
    parts = {"unet": build_unet(small_cfg), "vae": build_vae(small_cfg), "image_encoder": build_image_encoder(small_cfg),
             "motion": build_motion_adapter(small_cfg)}
    for p in parts["motion"].parameters():  # pretrained motion modules are not zero
        torch.nn.init.normal_(p, std=0.02)
    sd = tmp_path / "sd-1.5"
    parts["unet"].save_pretrained(sd / "unet")
    build_vae(small_cfg).save_pretrained(sd / "vae")  # SD-1.5's own VAE: replaced by sd-vae-ft-mse
    for name in ("model_index.json", "text_encoder/model.safetensors", "tokenizer/vocab.json"):
        (sd / name).parent.mkdir(parents=True, exist_ok=True)
        (sd / name).write_text("{}")
    parts["vae"].save_pretrained(tmp_path / "sd-vae-ft-mse")
    parts["image_encoder"].save_pretrained(tmp_path / "sd-image-variations" / "image_encoder")
    parts["motion"].save_pretrained(tmp_path / "animatediff-motion-adapter")
    return tmp_path, parts


def test_pretrained_parts_load_key_for_key(small_cfg, weights_dir):
    root, parts = weights_dir
    cfg = replace(small_cfg, pretrained=PretrainedConfig())  # the paper preset's manifest names
    model = Stage2Model.build(cfg, weights_dir=root)
    assert_same_state(model.reference_net, parts["unet"])
    assert_same_state(model.denoiser, parts["unet"])
    assert_same_state(model.vae, parts["vae"])
    assert_same_state(model.image_encoder, parts["image_encoder"])
    model.add_motion(weights_dir=root)
    state = model.denoiser.state_dict()
    adapter = parts["motion"].state_dict()  # the adapter's keys are the motion UNet's own paths
    assert len(adapter) == sum("motion_modules" in k for k in state)
    for key, value in adapter.items():
        torch.testing.assert_close(state[key], value, atol=0, rtol=0, msg=key)


def test_missing_pretrained_weights_name_the_file_and_fetch_command(small_cfg, tmp_path):
    with pytest.raises(WeightsMissingError, match="mmgt weights fetch sd-1.5"):
        Stage2Model.build(replace(small_cfg, pretrained=PretrainedConfig()), weights_dir=tmp_path)


@pytest.mark.parametrize("video", [False, True])
def test_saved_models_load_back_key_for_key(small_cfg, tmp_path, video):
    torch.manual_seed(2)
    model = Stage2Model.build(small_cfg)
    if video:
        model.add_motion()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    save_model(tmp_path / "m", model, make_scheduler(small_cfg.scheduler), step=7)
    loaded, _, meta = load_model(tmp_path / "m")
    assert meta["step"] == 7 and loaded.video == video and loaded.cfg == small_cfg
    assert_same_state(loaded, model)
    save_model(tmp_path / "half", model, make_scheduler(small_cfg.scheduler), step=7, dtype=torch.float16)
    half, _, _ = load_model(tmp_path / "half")
    assert all(v.dtype == torch.float32 for v in half.state_dict().values() if v.is_floating_point())
    torch.testing.assert_close(half.state_dict()["pose_guider.conv_out.weight"],
                               model.state_dict()["pose_guider.conv_out.weight"].half().float())


def test_a_pretrained_unet_of_other_widths_is_refused(small_cfg, weights_dir):
    from mmgt.errors import DataError

    root, _ = weights_dir
    cfg = replace(small_cfg, pretrained=PretrainedConfig(), unet=replace(small_cfg.unet, block_out_channels=(32, 32)))
    with pytest.raises(DataError, match="widths"):
        Stage2Model.build(cfg, weights_dir=root)
