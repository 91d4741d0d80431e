"""Synthetic speakers: the embedded default dataset (speech-like audio driving rendered figures).

``generate_split`` writes a split in the data-contract layout; ``render_interval`` makes one raw-style
long recording (any size and fps) for testing data preparation.
"""

from mmgt.data.synth.generate import Interval, SynthConfig, generate_split, render_interval

__all__ = ["Interval", "SynthConfig", "generate_split", "render_interval"]
