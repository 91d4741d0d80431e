"""``mmgt train``: train stage-1 models (SMGA, EDGE and ablations) from a YAML preset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Train models.", no_args_is_help=True)


@app.command("stage1")
def stage1(
    preset: str = typer.Option("tiny", help="Preset name (tiny, paper, edge-tiny, edge-paper) or a YAML path."),
    data: Path = typer.Option(Path("data/synth"), help="Split root (trains on its 'train' clips)."),
    out: Optional[Path] = typer.Option(None, help="Run folder (default runs/stage1/<preset name>)."),
    overrides: list[str] = typer.Option([], "--set", help="Override a preset field, e.g. --set loss.face_weight=0."),
    audio_encoder: Optional[Path] = typer.Option(None, help="WavLM checkpoint folder (default: the weights cache)."),
    resume: bool = typer.Option(True, help="Continue from the newest checkpoint in the run folder."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Train audio -> pose (SMGA; EDGE with an edge-* preset) and export RUN/stage1.pt."""
    from mmgt.stage1.config import load_config
    from mmgt.stage1.train import RunOptions, train

    cfg = load_config(preset, overrides)
    run_dir = out or Path("runs/stage1") / cfg.name
    opts = RunOptions(data=str(data), out=str(run_dir), weights=str(audio_encoder) if audio_encoder else None,
                      resume=resume, progress=progress)
    model = train(cfg, opts)
    print(f"model: {model}\nloss curve: {run_dir / 'loss.png'}")
