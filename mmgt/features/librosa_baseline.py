"""EDGE's 35-d "baseline" audio features at 25 fps (sample rate 12800, hop 512).

Per frame: onset envelope (1), MFCC (20), chroma-CENS (12), onset-peak one-hot (1), beat one-hot (1).
Deviation from EDGE: the start tempo for the beat tracker is estimated from the same onset envelope
(EDGE reloads the file at 22.05 kHz for it); everything else uses EDGE's calls and defaults.
"""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
from types import ModuleType

import numpy as np
from filelock import FileLock

from mmgt.features.timing import fit_frames
from mmgt.video_io import FPS, resample

HOP = 512
SAMPLE_RATE = FPS * HOP  # 12800: one hop per video frame
DIM = 35


# one machine-wide lock object per process (a FileLock object is re-entrant; two objects on one file are not)
numba_lock = FileLock(os.path.join(tempfile.gettempdir(), "mmgt-librosa-numba.lock"))


@functools.cache
def import_librosa() -> ModuleType:
    """librosa, with its numba-cached kernels compiled by one process at a time.

    librosa's beat tracker and peak picker are ``guvectorize(cache=True)`` gufuncs, whose cache is two
    files written separately; processes compiling them at once can pair files from different
    processes, and every later call then segfaults (numba issue #10128). The first call in each
    process compiles or loads every kernel the features use while holding a machine-wide lock; other
    callers of librosa numba kernels (``yin``, ...) hold ``numba_lock`` around their calls.
    """
    import librosa

    with numba_lock:
        _features(librosa, np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32))
    return librosa


def baseline_features(wav: np.ndarray, sample_rate: int, n_frames: int) -> np.ndarray:
    """``(n_frames, 35)`` float32 features of a mono signal, frame k centred at k / 25 s."""
    y = resample(wav, sample_rate, SAMPLE_RATE) if sample_rate != SAMPLE_RATE else wav
    return fit_frames(_features(import_librosa(), y.astype(np.float32)), n_frames)


def _features(librosa: ModuleType, y: np.ndarray) -> np.ndarray:
    """``(frames, 35)`` float32 features of a float32 signal at 12.8 kHz, one frame per hop."""
    envelope = librosa.onset.onset_strength(y=y, sr=SAMPLE_RATE, hop_length=HOP)
    mfcc = librosa.feature.mfcc(y=y, sr=SAMPLE_RATE, n_mfcc=20, hop_length=HOP).T
    with warnings.catch_warnings():  # CQT's decimated low octaves are shorter than n_fft; harmless
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        chroma = librosa.feature.chroma_cens(y=y, sr=SAMPLE_RATE, hop_length=HOP, n_chroma=12).T
    peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=SAMPLE_RATE, hop_length=HOP)
    start_bpm = float(librosa.feature.tempo(onset_envelope=envelope, sr=SAMPLE_RATE, hop_length=HOP)[0])
    _, beats = librosa.beat.beat_track(
        onset_envelope=envelope, sr=SAMPLE_RATE, hop_length=HOP, start_bpm=start_bpm, tightness=100
    )
    n = min(len(envelope), len(mfcc), len(chroma))
    feat = np.concatenate(
        [envelope[:n, None], mfcc[:n], chroma[:n], _one_hot(peaks, n), _one_hot(beats, n)], axis=-1
    )
    return feat.astype(np.float32)


def _one_hot(indices: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, 1), dtype=np.float32)
    out[indices[indices < n], 0] = 1.0
    return out
