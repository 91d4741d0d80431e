"""Audio onsets on the video's frame grid for beat alignment (librosa, no weights).

The signal is resampled to 12.8 kHz and analysed with hop 512, so one onset-strength frame is one
25 fps video frame (frame ``k`` centred at ``k / 25`` s), the grid of EDGE's audio features
(:mod:`mmgt.features.librosa_baseline`). Onsets are ``librosa.onset.onset_detect`` with its defaults
(spectral-flux onset strength on a 128-band mel spectrogram, lag 1; peak picking with librosa's
default windows, delta 0.07, wait 30 ms), no backtracking.
"""

from __future__ import annotations

import numpy as np

from mmgt.features.librosa_baseline import HOP, SAMPLE_RATE, import_librosa
from mmgt.video_io import resample


def audio_onsets(wav: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    """Onset frame indices (float64) of a mono signal, those before ``n_frames`` only."""
    y = resample(wav, sample_rate, SAMPLE_RATE) if sample_rate != SAMPLE_RATE else wav
    frames = import_librosa().onset.onset_detect(y=np.asarray(y, np.float32), sr=SAMPLE_RATE, hop_length=HOP)
    return frames[frames < n_frames].astype(np.float64)
