"""``mmgt pose``: speech + reference image -> pose keypoints, pose video and motion-mask videos."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def pose(
    audio: Path = typer.Option(..., help="Speech (wav or any soundfile format); any length."),
    image: Path = typer.Option(..., help="Reference image (png/jpg); sets the output size."),
    keypoints: Optional[Path] = typer.Option(None, help="Reference pose .npy, (T, 134, 3) pixels of the image (frame 0 is used); default: extract it."),
    model: Path = typer.Option(Path("runs/stage1/tiny"), help="Stage-1 model file or run folder (SMGA or EDGE)."),
    out: Path = typer.Option(Path("out/pose"), help="Output folder."),
    extractor: str = typer.Option("dwpose", help="Pose extractor for the reference image (dwpose, mediapipe)."),
    audio_encoder: Optional[Path] = typer.Option(None, help="WavLM checkpoint folder (default: the weights cache)."),
    seed: int = typer.Option(0, help="Sampling seed (same seed, same poses)."),
) -> None:
    """Generate the pose sequence for the speech, then render the pose video and motion masks."""
    from mmgt.data.layout import read_image
    from mmgt.stage1.generate import PoseGenerator
    from mmgt.stage1.outputs import reference_pose, write_outputs

    img = read_image(image)
    size = (img.shape[1], img.shape[0])
    ref = reference_pose(img, keypoints, extractor)
    generator = PoseGenerator.from_file(model, weights=str(audio_encoder) if audio_encoder else None)
    kp = generator.generate(audio, ref, size, seed=seed)
    for name, path in write_outputs(out, kp, size, audio).items():
        print(f"{name}: {path}")
