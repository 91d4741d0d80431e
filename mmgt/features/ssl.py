"""Self-supervised speech encoders from local transformers checkpoints, resampled to the frame rate.

- WavLM-Large (``WavLMModel``): last hidden layer, 1024-d at 50 Hz -> video frames (stage 1).
- wav2vec2-base-960h (``Wav2Vec2Model``): all 12 transformer layers, ``(T, 12, 768)`` (stage 2).

A checkpoint is a folder as written by ``save_pretrained`` (``config.json``, ``model.safetensors``
or ``pytorch_model.bin``, ``preprocessor_config.json``). Hidden states are linearly interpolated
to the frame count after the encoder (the library's stock forward, unmodified).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mmgt.errors import WeightsMissingError
from mmgt.features.timing import resample_frames
from mmgt.video_io import SAMPLE_RATE

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class SSLSpec:
    """One encoder: its weights name, Hub source and which layers it returns."""

    name: str
    repo: str
    model_class: str  # a transformers class name
    all_layers: bool

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}"


WAVLM_LARGE = SSLSpec("wavlm-large", "microsoft/wavlm-large", "WavLMModel", all_layers=False)
WAV2VEC2_BASE = SSLSpec("wav2vec2-base-960h", "facebook/wav2vec2-base-960h", "Wav2Vec2Model", all_layers=True)


def checkpoint_dir(spec: SSLSpec, path: str | Path | None = None) -> Path:
    """The checkpoint folder for ``spec`` (``path`` or the weights cache), checked to be complete."""
    if path is None:
        from mmgt.weights import resolve

        return resolve(spec.name)
    folder = Path(path)
    if not (folder / "config.json").is_file() or not any((folder / f).is_file() for f in WEIGHT_FILES):
        raise WeightsMissingError(spec.name, folder, spec.url)
    return folder


def checkpoint_id(folder: Path) -> dict:
    """A cheap identity of a checkpoint folder (config hash and weight file size) for cache keys."""
    import hashlib

    weights = next(folder / f for f in WEIGHT_FILES if (folder / f).is_file())
    config = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()[:16]
    return {"config": config, "weights": weights.name, "bytes": weights.stat().st_size}


class SSLEncoder:
    """Runs one speech encoder on 16 kHz mono audio and returns features on the video frame grid."""

    def __init__(self, spec: SSLSpec, path: str | Path | None = None, device: str = "cpu"):
        import transformers

        folder = checkpoint_dir(spec, path)
        self.spec = spec
        self.folder = folder
        self.device = device
        self.processor = transformers.Wav2Vec2FeatureExtractor.from_pretrained(folder)
        self.model = getattr(transformers, spec.model_class).from_pretrained(folder).to(device).eval()

    @torch.inference_mode()
    def __call__(self, wav: np.ndarray, n_frames: int) -> np.ndarray:
        """``(n_frames, D)`` for one layer, ``(n_frames, L, D)`` for all layers; float32."""
        inputs = self.processor(wav, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_values.to(self.device)
        out = self.model(inputs, output_hidden_states=self.spec.all_layers)
        hidden = torch.stack(out.hidden_states[1:], dim=2)[0] if self.spec.all_layers else out.last_hidden_state[0]
        return resample_frames(hidden.float().cpu(), n_frames).numpy()
