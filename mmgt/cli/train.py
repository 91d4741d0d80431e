"""``mmgt train``: train stage-1 models (SMGA, EDGE and ablations) from a YAML preset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Train models.", no_args_is_help=True)


@app.command("stage1")
def stage1(
    preset: str = typer.Option("tiny", help="Preset name (tiny, paper, edge-tiny, tiny-single-stream, tiny-no-face-loss, "
                               "their paper versions) or a YAML path."),
    data: Path = typer.Option(Path("data/synth"), help="Split root (trains on its 'train' clips)."),
    seed: Optional[int] = typer.Option(None, help="Training seed (= --set train.seed=N; default: the preset's, 0)."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/stage1/<preset name>, plus -seed<N> for seed N != 0)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a preset field, e.g. --set loss.face_weight=0."),
    audio_encoder: Optional[Path] = typer.Option(None, help="WavLM checkpoint folder (default: the weights cache)."),
    resume: bool = typer.Option(True, help="Continue from the newest checkpoint in the run folder."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Train audio -> pose (SMGA; EDGE with an edge-* preset) and export RUN/stage1.safetensors."""
    from mmgt.stage1.config import load_config
    from mmgt.stage1.train import RunOptions, train

    cfg = load_config(preset, [*overrides, *([f"train.seed={seed}"] if seed is not None else [])])
    run_dir = out or Path("runs/stage1") / cfg.run_name
    opts = RunOptions(data=str(data), out=str(run_dir), weights=str(audio_encoder) if audio_encoder else None,
                      resume=resume, progress=progress)
    model = train(cfg, opts)
    print(f"model: {model}\nloss curve: {run_dir / 'loss.png'}")


@app.command("stage2")
def stage2(
    step: str = typer.Option(..., help="vae (tiny preset's own VAE), image, or video (motion modules)."),
    preset: str = typer.Option("tiny", help="Preset name (tiny, paper) or a YAML path."),
    data: Path = typer.Option(Path("data/synth"), help="Split root (trains on its 'train' clips)."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/stage2/<preset name>)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a preset field, e.g. --set train.image.steps=10."),
    vae: Optional[Path] = typer.Option(None, help="Trained VAE folder (default RUN/vae when the preset has no pretrained VAE)."),
    init: Optional[Path] = typer.Option(None, help="Video step: the image-step model (default RUN/image/model)."),
    weights_dir: Optional[Path] = typer.Option(None, help="Pretrained weights cache (paper preset)."),
    steps: Optional[int] = typer.Option(None, help="Train this many steps instead of the preset's."),
    cache_dir: Path = typer.Option(Path("cache/stage2"), help="Encoded train frames (shared by runs on the same VAE and split)."),
    resume: bool = typer.Option(True, help="Continue from the newest checkpoint in the run folder."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Train the stage-2 backbone (AnimateAnyone): ``vae`` (tiny), then ``image``, then ``video``."""
    from mmgt.errors import MMGTError
    from mmgt.stage2.config import load_config
    from mmgt.stage2.train import RunOptions, train
    from mmgt.stage2.vae import train_vae

    if step not in ("vae", "image", "video"):
        raise MMGTError(f"--step must be vae, image or video, got {step!r}")
    cfg = load_config(preset, overrides)
    run_dir = out or Path("runs/stage2") / cfg.name
    if step == "vae":
        if steps is not None:
            cfg = load_config(preset, [*overrides, f"train.vae.steps={steps}"])
        metrics = train_vae(cfg, data, run_dir / "vae", progress)
        print(f"vae: {run_dir / 'vae'}  reconstruction PSNR test {metrics['psnr_test']:.2f} dB")
        return
    if vae is None and cfg.pretrained.vae is None:
        vae = run_dir / "vae"
    opts = RunOptions(data=str(data), out=str(run_dir), vae=str(vae) if vae else None, init=str(init) if init else None,
                      weights_dir=str(weights_dir) if weights_dir else None, steps=steps, cache_dir=str(cache_dir),
                      resume=resume, progress=progress)
    model = train(cfg, opts, step)
    print(f"model: {model}\nloss curve: {model.parent / 'loss.png'}")


def _stage2_audio_variants() -> dict[str, tuple[str, ...]]:
    """Variant name -> its MM-HAA settings, from the rows that run them."""
    from baselines.hallo import HalloVideo
    from mmgt.methods.mmgt_video import MMGTNoAudio, MMGTNoMask, MMGTStillMask, MMGTVideo

    return {cls.variant: cls.settings for cls in (MMGTVideo, MMGTStillMask, MMGTNoMask, MMGTNoAudio, HalloVideo)}


@app.command("stage2-audio")
def stage2_audio(
    variant: str = typer.Option("mmgt", help="mmgt, mmgt-still-mask, mmgt-no-mask, mmgt-no-audio or hallo."),
    preset: str = typer.Option("tiny", help="Backbone and MM-HAA preset name (tiny, paper)."),
    data: Path = typer.Option(Path("data/synth"), help="Split root (trains on its 'train' clips)."),
    init: Optional[Path] = typer.Option(None, help="The backbone's image-step model (default runs/stage2/<preset>/image/model)."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/stage2/<preset>-<variant>)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a backbone preset field, e.g. --set train.video.steps=10."),
    audio_overrides: list[str] = typer.Option([], "--audio-set", help="Override an MM-HAA field, e.g. --audio-set branch_weights=[1,2,1]."),
    audio_encoder: Optional[Path] = typer.Option(None, help="wav2vec2-base-960h folder (paper preset; default: the weights cache)."),
    weights_dir: Optional[Path] = typer.Option(None, help="Pretrained weights cache (paper preset's motion adapter)."),
    steps: Optional[int] = typer.Option(None, help="Train this many steps instead of the preset's."),
    cache_dir: Path = typer.Option(Path("cache/stage2"), help="Encoded train frames (shared by runs on the same VAE and split)."),
    resume: bool = typer.Option(True, help="Continue from the newest checkpoint in the run folder."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """MMGT stage 2 (or a Table III variant, or Hallo-adapted): the video step with motion and audio modules."""
    from mmgt.errors import MMGTError
    from mmgt.stage2.audio_attention import load_audio_config
    from mmgt.stage2.config import load_config
    from mmgt.stage2.mmgt_train import train_mmgt
    from mmgt.stage2.train import RunOptions

    variants = _stage2_audio_variants()
    if variant not in variants:
        raise MMGTError(f"--variant must be one of {', '.join(variants)}, got {variant!r}")
    cfg = load_config(preset, overrides)
    audio = load_audio_config(preset, [*variants[variant], *audio_overrides])
    run_dir = out or Path("runs/stage2") / f"{cfg.name}-{variant}"
    opts = RunOptions(data=str(data), out=str(run_dir), init=str(init or Path("runs/stage2") / cfg.name / "image" / "model"),
                      weights_dir=str(weights_dir) if weights_dir else None, steps=steps, cache_dir=str(cache_dir),
                      resume=resume, progress=progress)
    model = train_mmgt(cfg, audio, opts, str(audio_encoder) if audio_encoder else None)
    print(f"model: {model}\nloss curve: {model.parent / 'loss.png'}")


@app.command("mm-diffusion")
def mm_diffusion(
    preset: str = typer.Option("tiny", help="Preset name (tiny, paper) or a YAML path."),
    data: Path = typer.Option(Path("data/synth"), help="Split root (trains on its 'train' clips)."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/mm_diffusion/<tiny|paper>)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a preset field, e.g. --set train.steps=100."),
    models: list[str] = typer.Option(["coupled", "sr"], "--models", help="Which models to train (coupled, sr)."),
    fp16: bool = typer.Option(False, help="Export half-precision weights (the committed tiny checkpoints)."),
    resume: bool = typer.Option(True, help="Continue from the newest checkpoint of each model."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Train the MM-Diffusion baseline (coupled audio-video U-Net, then the upsampler) on a split."""
    from baselines.mm_diffusion.checkpoint import MODELS
    from baselines.mm_diffusion.config import load_config
    from baselines.mm_diffusion.train import RunOptions, train
    from mmgt.errors import MMGTError

    if unknown := set(models) - set(MODELS):
        raise MMGTError(f"--models must be among {list(MODELS)}, got {sorted(unknown)}")
    cfg = load_config(preset, overrides)
    run_dir = out or Path("runs/mm_diffusion") / cfg.name.removeprefix("mm-diffusion-")
    opts = RunOptions(data=str(data), out=str(run_dir), models=tuple(models), fp16=fp16, resume=resume, progress=progress)
    train(cfg, opts)
    print(f"models: {run_dir}\nloss curves: {run_dir / 'coupled' / 'loss.png'}, {run_dir / 'sr' / 'loss.png'}")
