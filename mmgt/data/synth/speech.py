"""Speech-like audio: phrases of voiced syllables, and the per-frame signals that drive the motion.

Each syllable is a glottal pulse train (Rosenberg flow derivative) with a pitch glide, shaped by
three formant resonators of its vowel and by a smooth amplitude hump; stressed syllables are longer,
louder and higher. Phrases of 3-9 syllables are separated by pauses. The amplitude envelope used to
synthesise the sound is kept, so the motion is driven by exactly what is heard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import lfilter

from mmgt.data.synth.speakers import Voice

# vowel -> (F1, F2, F3) in Hz for an adult male tract, and how far the mouth opens for it
VOWELS: dict[str, tuple[tuple[float, float, float], float]] = {
    "a": ((730.0, 1090.0, 2440.0), 1.0),
    "e": ((530.0, 1840.0, 2480.0), 0.8),
    "i": ((270.0, 2290.0, 3010.0), 0.6),
    "o": ((570.0, 840.0, 2410.0), 0.85),
    "u": ((300.0, 870.0, 2240.0), 0.65),
}
FORMANT_BANDWIDTHS = (80.0, 110.0, 150.0)
FORMANT_GAINS = (1.0, 0.6, 0.3)
OUTPUT_GAIN = 0.1  # unit-RMS syllables -> peaks well inside [-1, 1]


@dataclass(frozen=True)
class Syllable:
    onset: float  # seconds
    duration: float  # voiced nucleus, seconds
    vowel: str
    stressed: bool
    amplitude: float
    f0: tuple[float, float]  # pitch at start and end, Hz
    consonant: bool  # a short noise burst precedes the nucleus


@dataclass(frozen=True)
class Speech:
    wav: np.ndarray  # (N,) float32
    sample_rate: int
    envelope: np.ndarray  # (N,) amplitude envelope the syllables were shaped with
    openness: np.ndarray  # (N,) envelope weighted by each vowel's mouth opening
    syllables: tuple[Syllable, ...]


@dataclass(frozen=True)
class DrivingSignals:
    """Per-video-frame signals the motion follows."""

    envelope: np.ndarray  # (T,) RMS of the syllable envelope over the frame
    mouth: np.ndarray  # (T,) RMS of the vowel-weighted envelope: target lip opening in [0, 1]
    stress: np.ndarray  # (T,) amplitude of stressed syllables starting in the frame, else 0
    energy: np.ndarray  # (T,) slow speaking energy (envelope smoothed over ~0.3 s)


def plan_speech(rng: np.random.Generator, voice: Voice, duration_s: float) -> tuple[Syllable, ...]:
    """Draw phrases of syllables filling ``duration_s`` seconds."""
    syllables: list[Syllable] = []
    t = float(rng.uniform(0.05, 0.4))
    vowels = tuple(VOWELS)
    while t < duration_s - 0.3:
        n = int(rng.integers(3, 10))
        for k in range(n):
            rate = voice.rate * float(rng.uniform(0.85, 1.15))
            stressed = bool(rng.random() < (0.55 if k == 0 else 0.28))
            slot = float(rng.uniform(0.75, 1.25)) / rate * (1.3 if stressed else 1.0)
            decline = 1.08 - 0.16 * k / max(n - 1, 1)  # pitch declination over the phrase
            f0 = voice.f0 * decline * (1.22 if stressed else 1.0) * float(rng.uniform(0.96, 1.04))
            syllables.append(Syllable(
                onset=t,
                duration=0.78 * slot,
                vowel=vowels[int(rng.integers(len(vowels)))],
                stressed=stressed,
                amplitude=1.0 if stressed else float(rng.uniform(0.5, 0.75)),
                f0=(f0, f0 * float(rng.uniform(0.88, 1.02))),
                consonant=bool(rng.random() < 0.6),
            ))
            t += slot
            if t >= duration_s - 0.3:
                break
        t += float(rng.uniform(0.25, 0.8))
    return tuple(syllables)


def _glottal_source(f0: np.ndarray, sample_rate: int, phase0: float) -> np.ndarray:
    """Rosenberg glottal flow (40 % opening, 16 % closing), differentiated for lip radiation."""
    frac = (phase0 + np.cumsum(f0 / sample_rate)) % 1.0
    opening = 0.5 * (1.0 - np.cos(np.pi * frac / 0.4))
    closing = np.cos(np.pi * (frac - 0.4) / 0.32)
    flow = np.where(frac < 0.4, opening, np.where(frac < 0.56, closing, 0.0))
    return np.diff(flow, prepend=flow[0])


def _formants(source: np.ndarray, vowel: str, scale: float, sample_rate: int) -> np.ndarray:
    """Parallel second-order resonators at the vowel's formants."""
    out = np.zeros_like(source)
    for freq, bw, gain in zip(VOWELS[vowel][0], FORMANT_BANDWIDTHS, FORMANT_GAINS):
        r = np.exp(-np.pi * bw / sample_rate)
        theta = 2.0 * np.pi * min(freq * scale, 0.45 * sample_rate) / sample_rate
        out += gain * lfilter([1.0 - r], [1.0, -2.0 * r * np.cos(theta), r * r], source)
    return out


def synthesize(
    syllables: tuple[Syllable, ...], voice: Voice, n_samples: int, sample_rate: int, rng: np.random.Generator
) -> Speech:
    """Render the syllables to ``n_samples`` of mono audio, keeping the envelopes."""
    wav = np.zeros(n_samples)
    envelope = np.zeros(n_samples)
    openness = np.zeros(n_samples)
    for syl in syllables:
        start = int(round(syl.onset * sample_rate))
        length = min(int(round(syl.duration * sample_rate)), n_samples - start)
        if length < 16:
            continue
        f0 = np.linspace(syl.f0[0], syl.f0[1], length) * (1.0 + 0.01 * np.sin(np.linspace(0, 9.0, length)))
        source = _glottal_source(f0, sample_rate, float(rng.random()))
        source += voice.breathiness * np.std(source) * rng.standard_normal(length)
        voiced = _formants(source, syl.vowel, voice.formant_scale, sample_rate)
        voiced /= np.sqrt(np.mean(voiced**2)) + 1e-12
        hump = syl.amplitude * np.sin(np.pi * (np.arange(length) + 0.5) / length) ** 0.6
        wav[start : start + length] += hump * voiced
        envelope[start : start + length] += hump
        openness[start : start + length] += hump * VOWELS[syl.vowel][1]
        if syl.consonant:  # a short high-passed noise burst right before the vowel
            burst = int(0.03 * sample_rate)
            b0 = max(start - burst, 0)
            noise = np.diff(rng.standard_normal(start - b0 + 1)) * np.hanning(start - b0)
            wav[b0:start] += 0.12 * syl.amplitude * noise
    wav += 0.01 * rng.standard_normal(n_samples)  # room noise floor
    wav = np.clip(OUTPUT_GAIN * wav, -0.99, 0.99).astype(np.float32)
    return Speech(wav, sample_rate, envelope, openness, syllables)


def _frame_rms(signal: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return np.array([np.sqrt(np.mean(signal[a:b] ** 2)) if b > a else 0.0 for a, b in zip(bounds[:-1], bounds[1:])])


def driving_signals(speech: Speech, fps: float, n_frames: int) -> DrivingSignals:
    """Per-frame envelope, lip target, stress events and energy at ``fps``."""
    bounds = np.round(np.arange(n_frames + 1) * speech.sample_rate / fps).astype(int)
    envelope = _frame_rms(speech.envelope, bounds)
    stress = np.zeros(n_frames)
    for syl in speech.syllables:
        frame = int(syl.onset * fps)
        if syl.stressed and frame < n_frames:
            stress[frame] += syl.amplitude
    energy = gaussian_filter1d(envelope, 0.3 * fps, mode="nearest")
    return DrivingSignals(envelope, _frame_rms(speech.openness, bounds), stress, energy)
