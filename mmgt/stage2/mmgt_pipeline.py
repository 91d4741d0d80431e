"""MMGT stage-2 inference: the backbone's sampler (:class:`~mmgt.stage2.pipeline.Stage2Pipeline`) with audio and masks.

Audio features ``(T, ...)`` (the preset's :mod:`mmgt.features` kind on the video frame grid) are
windowed and projected once; per context window the MM-HAA bank gets the windows' tokens (zero for
the unconditional branch of guidance) and masks (:func:`~mmgt.stage2.audio_attention.branch_masks`
from stage 1's poses, or a Hallo-style static mask), then the backbone's sampler runs unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mmgt.stage2.audio_attention import frame_windows
from mmgt.stage2.mmgt_model import MMGTModel, load_mmgt
from mmgt.stage2.pipeline import Stage2Pipeline


class MMGTPipeline(Stage2Pipeline):
    model: MMGTModel

    @classmethod
    def from_folder(cls, folder: str | Path, device: str = "cpu", **overrides) -> MMGTPipeline:
        """An MMGT model folder (:func:`~mmgt.stage2.mmgt_model.save_mmgt`); ``overrides`` replace inference settings."""
        from dataclasses import replace

        model, scheduler, _ = load_mmgt(folder, device)
        return cls(model, scheduler, replace(model.cfg.inference, **overrides))

    def prepare_windows(self, chunk: list[list[int]]) -> None:
        index = torch.tensor([i for w in chunk for i in w], device=self.device)
        tokens = self._tokens[index]
        masks = None if self._masks is None else self._masks[index]
        self.model.set_audio(torch.cat([torch.zeros_like(tokens), tokens]),
                             None if masks is None else torch.cat([masks, masks]))

    @torch.no_grad()
    def __call__(self, ref_image: np.ndarray, poses: np.ndarray, audio: np.ndarray | None = None,
                 masks: np.ndarray | None = None, seed: int = 0, progress: bool = False) -> np.ndarray:
        """The backbone's arguments plus ``audio`` ``(T, ...)`` features and ``masks`` ``(T, 3, h, w)`` (None: unmasked)."""
        if audio is None:
            raise ValueError("MMGT stage 2 needs audio features (T, ...) on the video frame grid")
        if len(audio) != len(poses) or (masks is not None and len(masks) != len(poses)):
            raise ValueError(f"audio ({len(audio)}), masks and poses ({len(poses)}) need one row per frame")
        cfg = self.model.audio_cfg
        features = torch.as_tensor(np.asarray(audio, np.float32)).reshape(len(audio), cfg.feature_layers, cfg.feature_dim)
        self._tokens = self.model.tokens(frame_windows(features, cfg.window).to(self.device))
        self._masks = None if masks is None else torch.as_tensor(np.asarray(masks, np.float32), device=self.device)
        try:
            return super().__call__(ref_image, poses, seed=seed, progress=progress)
        finally:
            self.model.audio.bank.clear()
            self._tokens = self._masks = None
