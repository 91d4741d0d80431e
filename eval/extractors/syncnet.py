"""SyncNet v2 (syncnet-python's model class ``S`` with ``syncnet_v2.model``): lip and audio embeddings.

Inputs as ``SyncNetInstance.evaluate`` takes them: 224x224 mouth-centred crops as BGR 0-255 floats,
unnormalised, in 5-frame windows; MFCCs of the 16 kHz audio with python_speech_features' defaults
(13 coefficients at 100 Hz, computed on int16-scaled samples as ``scipy.io.wavfile`` reads them),
20 MFCC frames (4 per video frame) per window. Like the reference, ``min(frames, samples // 640) - 5``
windows are scored.
"""

from __future__ import annotations

import numpy as np
import python_speech_features
import torch
from syncnet_python.SyncNetModel import S
from torch import nn

from eval.extractors.base import Extractor, batches
from eval.metrics.sync import VSHIFT, offset_distances

SAMPLE_RATE = 16_000
SAMPLES_PER_FRAME = 640  # 16 kHz / 25 fps
WINDOW = 5
MFCC_PER_FRAME = 4
INT16_SCALE = 32768.0  # float samples read by soundfile are int16 / 32768


def mfcc(wav: np.ndarray) -> np.ndarray:
    """``(13, M)`` MFCCs of mono 16 kHz float audio in [-1, 1], on the int16 scale the reference reads."""
    return python_speech_features.mfcc(np.asarray(wav, dtype=np.float64) * INT16_SCALE, SAMPLE_RATE).T


def n_windows(n_frames: int, n_samples: int) -> int:
    """How many 5-frame windows the reference scores (its last possible window is left out)."""
    return min(n_frames, n_samples // SAMPLES_PER_FRAME) - WINDOW


class SyncNetExtractor(Extractor):
    """Mouth crops + speech -> per-window lip and audio embeddings (1024-d each)."""

    name = "syncnet"
    weights_name = "syncnet-v2"
    preprocessing = "224x224 mouth crops BGR 0-255; 5-frame windows; python_speech_features mfcc int16 scale"

    fast_memory_format = torch.channels_last_3d

    @classmethod
    def build(cls) -> S:
        return S()

    @classmethod
    def fast_part(cls, net: S) -> nn.Module:
        """The lip stream (3-D convolutions, 2x faster channels-last here); the tiny audio stream stays as built."""
        return net.netcnnlip

    @torch.inference_mode()
    def features(self, crops: np.ndarray, wav: np.ndarray, batch_size: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
        """``(T, 224, 224, 3)`` uint8 RGB crops and 16 kHz audio -> (lip, audio) ``(n, 1024)`` float32 embeddings."""
        n = n_windows(len(crops), len(wav))
        if n < 1:
            raise ValueError(f"syncnet: {len(crops)} frames and {len(wav)} samples give no 5-frame window")
        video = torch.from_numpy(np.ascontiguousarray(crops[..., ::-1])).float()  # (T, H, W, 3) BGR
        cc = torch.from_numpy(mfcc(wav)).float()[None]  # (1, 13, M)
        lip, aud = [], []
        for part in batches(n, batch_size):
            starts = range(part.start, part.stop)
            # (n, 5, H, W, 3) viewed as (n, 3, 5, H, W): already channels-last-3d, so no copy in inference form
            lips = torch.stack([video[i:i + WINDOW] for i in starts]).permute(0, 4, 1, 2, 3).to(self.device)
            lip.append(self.net.forward_lip(lips.contiguous(memory_format=self.memory_format)))
            span = WINDOW * MFCC_PER_FRAME
            aud.append(self.net.forward_aud(
                torch.stack([cc[:, :, i * MFCC_PER_FRAME:i * MFCC_PER_FRAME + span] for i in starts]).to(self.device)))
        return torch.cat(lip).cpu(), torch.cat(aud).cpu()

    def distances(self, crops: np.ndarray, wav: np.ndarray, vshift: int = VSHIFT, batch_size: int = 20) -> np.ndarray:
        """``(n, 2 vshift + 1)`` float32 window-by-offset distances for :class:`eval.metrics.sync.SyncMetric`."""
        return offset_distances(*self.features(crops, wav, batch_size), vshift).numpy()
