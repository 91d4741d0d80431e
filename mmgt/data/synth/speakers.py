"""Per-speaker style of the synthetic speakers: look, voice and gesture habits.

A speaker is derived from a preset (cycled by index) jittered by the seed, so every seed gives a
different but reproducible cast, and speakers of one cast stay clearly distinct.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Look:
    """Colours and shapes the renderer uses."""

    skin: RGB
    hair: RGB
    hair_style: str  # "short", "long" or "bun"
    shirt: RGB
    long_sleeves: bool
    lips: RGB
    iris: RGB
    background: tuple[RGB, RGB]  # the two colours of the backdrop
    pattern: str  # backdrop texture: "gradient", "stripes", "tiles" or "clouds"
    shoulders: float  # shoulder half-width factor (1 = rig default)
    head: float  # head size factor


@dataclass(frozen=True)
class Voice:
    """Speech synthesis parameters."""

    f0: float  # mean pitch, Hz
    formant_scale: float  # vocal-tract length factor (shorter tract -> higher formants)
    rate: float  # syllables per second while speaking
    breathiness: float  # aspiration noise relative to the voiced source


@dataclass(frozen=True)
class GestureStyle:
    """How a speaker moves."""

    amplitude: float  # scale of arm strokes
    right_hand: float  # probability that a stroke uses the right hand
    both_hands: float  # probability that a stroke uses both hands
    nod: float  # head nod per stress, radians
    sway: float  # idle body sway, pixels
    mouth: float  # lip opening gain
    hold_s: float  # how long a stroke is held before relaxing


@dataclass(frozen=True)
class Speaker:
    id: str
    look: Look
    voice: Voice
    gesture: GestureStyle
    texture_seed: int


_PRESETS: tuple[tuple[Look, Voice, GestureStyle], ...] = (
    (Look((224, 172, 140), (60, 40, 30), "short", (40, 70, 140), True, (170, 90, 90), (70, 50, 30),
          ((200, 205, 215), (150, 160, 180)), "gradient", 1.05, 1.0),
     Voice(115.0, 1.0, 4.2, 0.05), GestureStyle(1.0, 0.8, 0.15, 0.14, 2.0, 1.0, 0.35)),
    (Look((150, 100, 70), (20, 15, 15), "long", (170, 40, 50), False, (120, 60, 60), (40, 30, 20),
          ((230, 215, 170), (200, 170, 120)), "stripes", 0.92, 0.96),
     Voice(205.0, 1.16, 4.8, 0.12), GestureStyle(1.25, 0.3, 0.3, 0.08, 3.0, 1.1, 0.25)),
    (Look((240, 200, 175), (160, 100, 40), "bun", (60, 120, 70), True, (190, 100, 110), (60, 110, 150),
          ((90, 110, 120), (50, 60, 70)), "tiles", 0.95, 1.04),
     Voice(190.0, 1.12, 3.6, 0.09), GestureStyle(0.75, 0.55, 0.1, 0.2, 1.5, 0.9, 0.45)),
    (Look((110, 75, 55), (30, 30, 35), "short", (230, 220, 200), False, (100, 55, 55), (30, 20, 15),
          ((120, 70, 60), (190, 130, 90)), "clouds", 1.1, 1.02),
     Voice(135.0, 1.04, 5.2, 0.04), GestureStyle(1.1, 0.65, 0.22, 0.11, 2.5, 1.05, 0.3)),
)


def _jitter_rgb(rng: np.random.Generator, colour: RGB, spread: float) -> RGB:
    shifted = np.clip(np.asarray(colour, float) + rng.uniform(-spread, spread, 3), 0, 255)
    return tuple(int(round(v)) for v in shifted)  # type: ignore[return-value]


def make_speaker(index: int, seed: int) -> Speaker:
    """Speaker ``spk{index}`` of the cast drawn with ``seed``."""
    look, voice, gesture = _PRESETS[index % len(_PRESETS)]
    rng = np.random.default_rng([seed, index, 7])
    spread = 14.0 if index < len(_PRESETS) else 40.0  # later cycles must still look different
    look = replace(
        look,
        skin=_jitter_rgb(rng, look.skin, spread * 0.6),
        hair=_jitter_rgb(rng, look.hair, spread),
        shirt=_jitter_rgb(rng, look.shirt, spread * 2),
        lips=_jitter_rgb(rng, look.lips, spread * 0.5),
        iris=_jitter_rgb(rng, look.iris, spread),
        background=(_jitter_rgb(rng, look.background[0], spread), _jitter_rgb(rng, look.background[1], spread)),
        shoulders=look.shoulders * float(rng.uniform(0.97, 1.03)),
        head=look.head * float(rng.uniform(0.97, 1.03)),
    )
    voice = replace(
        voice,
        f0=voice.f0 * float(rng.uniform(0.92, 1.08)),
        formant_scale=voice.formant_scale * float(rng.uniform(0.98, 1.02)),
        rate=voice.rate * float(rng.uniform(0.9, 1.1)),
    )
    gesture = replace(
        gesture,
        amplitude=gesture.amplitude * float(rng.uniform(0.9, 1.1)),
        nod=gesture.nod * float(rng.uniform(0.9, 1.1)),
    )
    return Speaker(f"spk{index}", look, voice, gesture, texture_seed=int(rng.integers(2**31)))
