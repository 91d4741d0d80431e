"""Registry of table rows by validated name, lazily resolved (``"package.module:Class"``).

``mmgt`` registers its own rows here; other packages register theirs in a plugin module listed in
:data:`PLUGINS` (``baselines/methods.py``), imported the first time a name is looked up. Nothing is
imported until a method is built, so listing names stays cheap.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from mmgt.errors import MMGTError

PLUGINS: tuple[str, ...] = ("baselines.methods",)


@dataclass(frozen=True)
class Entry:
    """A registered row: the class to build and keyword arguments bound at registration."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, Entry] = {}
_plugins_loaded = False


def register(name: str, target: str, **kwargs: Any) -> None:
    """Register ``target`` (``"module:Class"``) under ``name``; ``kwargs`` go to its constructor."""
    if ":" not in target:
        raise ValueError(f"method target must be 'module:Class', got {target!r}")
    if name in _REGISTRY and _REGISTRY[name] != Entry(target, kwargs):
        raise ValueError(f"method {name!r} is already registered")
    _REGISTRY[name] = Entry(target, dict(kwargs))


def resolve(target: str) -> Any:
    """Import ``"module:attr"`` and return the attribute."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _load_plugins() -> None:
    global _plugins_loaded
    if not _plugins_loaded:
        _plugins_loaded = True
        for module in PLUGINS:
            importlib.import_module(module)


def method_names() -> list[str]:
    """Every registered row name."""
    _load_plugins()
    return sorted(_REGISTRY)


def entry(name: str) -> Entry:
    _load_plugins()
    if name not in _REGISTRY:
        raise MMGTError(f"unknown method {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def build_method(name: str, config=None):
    """Build the row ``name`` from a :class:`~mmgt.methods.base.MethodConfig` (default: tiny, CPU, seed 0)."""
    from mmgt.methods.base import MethodConfig

    e = entry(name)
    method = resolve(e.target)(config or MethodConfig(), **e.kwargs)
    method.name = name  # the row is known by its registered name
    return method


# mmgt's own rows
register("gt", "mmgt.methods.reference:GroundTruth")
register("still", "mmgt.methods.reference:Still")
# MMGT: SMGA poses (stage 1) -> stage 2 with MM-HAA; Table III's stage-2 variants (each its own trained model)
for _row, _video in (("mmgt", "MMGTVideo"), ("mmgt-still-mask", "MMGTStillMask"), ("mmgt-no-mask", "MMGTNoMask"),
                     ("mmgt-no-audio", "MMGTNoAudio")):
    register(_row, "mmgt.methods.compose:Composed", pose_source="mmgt.methods.stage1_poses:Stage1Poses",
             video=f"mmgt.methods.mmgt_video:{_video}")
# Table II: MMGT stage 2 driven by the test clip's GT poses (pose-driven, beside AnimateAnyone)
register("mmgt-gt-pose", "mmgt.methods.compose:Composed", pose_source="mmgt.methods.reference:GroundTruthPoses",
         video="mmgt.methods.mmgt_video:MMGTVideo")
# Table III "w/o L_face": stage 1 trained without the face loss -> MMGT stage 2
register("mmgt-no-face-loss", "mmgt.methods.compose:Composed", pose_source="mmgt.methods.stage1_poses:Stage1PosesNoFaceLoss",
         video="mmgt.methods.mmgt_video:MMGTVideo")
