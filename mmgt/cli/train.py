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
    """Train audio -> pose (SMGA; EDGE with an edge-* preset) and export RUN/stage1.pt."""
    from mmgt.stage1.config import load_config
    from mmgt.stage1.train import RunOptions, train

    cfg = load_config(preset, [*overrides, *([f"train.seed={seed}"] if seed is not None else [])])
    run_dir = out or Path("runs/stage1") / cfg.run_name
    opts = RunOptions(data=str(data), out=str(run_dir), weights=str(audio_encoder) if audio_encoder else None,
                      resume=resume, progress=progress)
    model = train(cfg, opts)
    print(f"model: {model}\nloss curve: {run_dir / 'loss.png'}")
