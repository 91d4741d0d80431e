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


def animatediff_layout(cfg) -> dict[str, tuple[str, tuple[int, ...]]]:
    """AnimateDiff v2's motion-module tensors (``VanillaTemporalModule`` -> ``TemporalTransformer3DModel``
    -> ``TemporalTransformerBlock``) as ``{original key: (diffusers MotionAdapter key, shape)}``; position
    tables map to None."""
    widths, layers = tuple(cfg.unet.block_out_channels), cfg.unet.layers_per_block
    modules = [(f"down_blocks.{b}.motion_modules.{i}", c) for b, c in enumerate(widths) for i in range(layers)]
    modules += [(f"up_blocks.{b}.motion_modules.{i}", c) for b, c in enumerate(reversed(widths)) for i in range(layers + 1)]
    modules += [("mid_block.motion_modules.0", widths[-1])] if cfg.motion.use_mid_block else []
    layout = {}
    for path, c in modules:
        old, new = f"{path}.temporal_transformer", path
        layout |= {f"{old}.norm.{p}": (f"{new}.norm.{p}", (c,)) for p in ("weight", "bias")}
        for io in ("proj_in", "proj_out"):
            layout |= {f"{old}.{io}.weight": (f"{new}.{io}.weight", (c, c)), f"{old}.{io}.bias": (f"{new}.{io}.bias", (c,))}
        blk, nblk = f"{old}.transformer_blocks.0", f"{new}.transformer_blocks.0"
        for a in (0, 1):
            att, natt = f"{blk}.attention_blocks.{a}", f"{nblk}.attn{a + 1}"
            layout |= {f"{att}.to_{x}.weight": (f"{natt}.to_{x}.weight", (c, c)) for x in "qkv"}
            layout |= {f"{att}.to_out.0.weight": (f"{natt}.to_out.0.weight", (c, c)),
                       f"{att}.to_out.0.bias": (f"{natt}.to_out.0.bias", (c,)),
                       f"{att}.pos_encoder.pe": (None, (1, cfg.motion.max_seq_length, c))}
            layout |= {f"{blk}.norms.{a}.{p}": (f"{nblk}.norm{a + 1}.{p}", (c,)) for p in ("weight", "bias")}
        layout |= {f"{blk}.ff_norm.{p}": (f"{nblk}.norm3.{p}", (c,)) for p in ("weight", "bias")}
        layout |= {f"{blk}.ff.net.0.proj.weight": (f"{nblk}.ff.net.0.proj.weight", (8 * c, c)),
                   f"{blk}.ff.net.0.proj.bias": (f"{nblk}.ff.net.0.proj.bias", (8 * c,)),
                   f"{blk}.ff.net.2.weight": (f"{nblk}.ff.net.2.weight", (c, 4 * c)),
                   f"{blk}.ff.net.2.bias": (f"{nblk}.ff.net.2.bias", (c,))}
    return layout


def sinusoid(length: int, c: int) -> torch.Tensor:
    """AnimateDiff's ``PositionalEncoding.pe``."""
    position = torch.arange(length).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, c, 2) * (-torch.log(torch.tensor(10000.0)) / c))
    pe = torch.zeros(1, length, c)
    pe[0, :, 0::2], pe[0, :, 1::2] = torch.sin(position * div_term), torch.cos(position * div_term)
    return pe


def test_animatediff_ckpt_loads_into_the_motion_adapter_key_for_key(small_cfg, tmp_path):
    from mmgt.weights import MANIFEST

    layout = animatediff_layout(small_cfg)
    gen = torch.Generator().manual_seed(5)
    state = {k: sinusoid(*shape[1:]) if new is None else torch.randn(shape, generator=gen) * 0.02
             for k, (new, shape) in layout.items()}
    torch.save(state, tmp_path / MANIFEST["animatediff-mm-v2"].filename)  # the release's file name
    cfg = replace(small_cfg, pretrained=PretrainedConfig(unet=None, vae=None, image_encoder=None,
                                                         motion_adapter="animatediff-mm-v2"))
    torch.manual_seed(0)
    model = Stage2Model.build(cfg, weights_dir=tmp_path)
    model.add_motion(weights_dir=tmp_path)
    denoiser = model.denoiser.state_dict()
    motion = [k for k in denoiser if "motion_modules" in k and not k.endswith("pos_embed.pe")]
    assert sorted(motion) == sorted(new for new, _ in layout.values() if new is not None)  # nothing left out
    for key, (new, _) in layout.items():
        if new is not None:
            torch.testing.assert_close(denoiser[new], state[key], atol=0, rtol=0, msg=key)
    g, h, c = torch.Generator().manual_seed(1), cfg.resolution // cfg.vae.downsample, cfg.unet.latent_channels
    x = dict(noisy=torch.randn(1, c, 3, h, h, generator=g), t=torch.tensor([5]),
             pose=torch.rand(1, 3, 3, cfg.resolution, cfg.resolution, generator=g),
             ref_latents=torch.randn(1, c, h, h, generator=g),
             ref_images=torch.rand(1, 3, cfg.resolution, cfg.resolution, generator=g) * 2 - 1)
    with torch.no_grad():
        out = model(**x, keep=torch.tensor([True]))
    assert out.shape == x["noisy"].shape and torch.isfinite(out).all()  # the video step runs with them


def test_an_animatediff_ckpt_of_another_layout_is_refused(small_cfg, tmp_path):
    from mmgt.errors import DataError
    from mmgt.stage2.motion_checkpoint import load_motion_checkpoint

    layout = animatediff_layout(small_cfg)
    state = {k: sinusoid(*shape[1:]) if new is None else torch.zeros(shape) for k, (new, shape) in layout.items()}
    first = next(k for k in layout if k.endswith("pos_encoder.pe"))
    for bad, match in ((state | {first: sinusoid(24, state[first].shape[-1])}, "position table"),  # v1: 24 frames
                       ({k: v for k, v in state.items() if "ff_norm" not in k}, "absent from the file"),
                       (state | {"down_blocks.0.motion_modules.0.temporal_transformer.extra.weight": torch.zeros(1)},
                        "not in the motion adapter")):
        torch.save(bad, tmp_path / "mm.ckpt")
        with pytest.raises(DataError, match=match):
            load_motion_checkpoint(tmp_path / "mm.ckpt", build_motion_adapter(small_cfg))
