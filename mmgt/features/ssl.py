"""Self-supervised speech encoders from local transformers checkpoints, on the video frame grid, fed as the
official pipelines feed them.

- WavLM-Large (``WavLMModel``, stage 1): the waveform layer-normalised over its whole length
  (``F.layer_norm(wav, wav.shape)``, what the official WavLM code does when ``cfg.normalize``, which is set
  for WavLM-Large; MMGT's ``wavlm_features.py`` and S2G-MDD do the same), the last hidden layer, 1024-d at
  50 Hz, linearly resampled to the video frames.
- wav2vec2-base-960h (``Wav2Vec2Model``, stage 2): the checkpoint's preprocessor (zero mean, unit variance),
  then as Hallo's and MMGT's ``Wav2VecModel.forward``: the CNN features linearly interpolated to the frame
  count (``align_corners=True``) *before* the feature projection and the transformer, all 12 layers,
  ``(T, 12, 768)``.

A checkpoint is a folder as written by ``save_pretrained`` (``config.json``, ``model.safetensors``
or ``pytorch_model.bin``, ``preprocessor_config.json``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mmgt.errors import WeightsMissingError
from mmgt.features.timing import resample_frames
from mmgt.video_io import SAMPLE_RATE

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class SSLSpec:
    """One encoder: its weights name, Hub source, which layers it returns and how it is fed."""

    name: str
    repo: str
    model_class: str  # a transformers class name
    all_layers: bool
    layer_norm_waveform: bool  # the official cfg.normalize: layer norm over the waveform (else the preprocessor)
    frames_before_encoder: bool  # CNN features interpolated to the frame count before the transformer (Hallo)

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo}"


WAVLM_LARGE = SSLSpec("wavlm-large", "microsoft/wavlm-large", "WavLMModel", all_layers=False,
                      layer_norm_waveform=True, frames_before_encoder=False)
WAV2VEC2_BASE = SSLSpec("wav2vec2-base-960h", "facebook/wav2vec2-base-960h", "Wav2Vec2Model", all_layers=True,
                        layer_norm_waveform=False, frames_before_encoder=True)


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

    def waveform(self, wav: np.ndarray) -> torch.Tensor:
        """``(1, samples)`` model input: layer-normalised (WavLM's cfg.normalize) or the checkpoint's preprocessor."""
        if self.spec.layer_norm_waveform:
            x = torch.as_tensor(np.asarray(wav, np.float32))[None]
            return F.layer_norm(x, x.shape).to(self.device)
        return self.processor(wav, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_values.to(self.device)

    @torch.inference_mode()
    def __call__(self, wav: np.ndarray, n_frames: int) -> np.ndarray:
        """``(n_frames, D)`` for one layer, ``(n_frames, L, D)`` for all layers; float32."""
        inputs = self.waveform(wav)
        if self.spec.frames_before_encoder:
            return encode_at_frames(self.model, inputs, n_frames).float().cpu().numpy()
        out = self.model(inputs, output_hidden_states=self.spec.all_layers)
        hidden = torch.stack(out.hidden_states[1:], dim=2)[0] if self.spec.all_layers else out.last_hidden_state[0]
        return resample_frames(hidden.float().cpu(), n_frames).numpy()


def encode_at_frames(model, inputs: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Every transformer layer ``(n_frames, L, D)`` of a ``Wav2Vec2Model`` whose CNN features were linearly
    interpolated to ``n_frames`` (``align_corners=True``) before the feature projection, as Hallo/MMGT."""
    def to_frames(module, args, features: torch.Tensor) -> torch.Tensor:  # (1, C, T') -> (1, C, n_frames)
        return F.interpolate(features, size=n_frames, mode="linear", align_corners=True)

    handle = model.feature_extractor.register_forward_hook(to_frames)  # the stock forward, fed the frame grid
    try:
        out = model(inputs, output_hidden_states=True)
    finally:
        handle.remove()
    return torch.stack(out.hidden_states[1:], dim=2)[0]
