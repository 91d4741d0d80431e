"""Typed configuration shared by every model: frozen dataclasses built from YAML presets
(``mmgt/presets/<prefix><name>.yaml``) with ``section.field=value`` overrides."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from mmgt.errors import DataError

PRESET_DIR = Path(__file__).resolve().parent / "presets"
C = TypeVar("C")


def from_dict(cls: type[C], data: dict[str, Any], where: str = "config") -> C:
    """Build a (nested) frozen dataclass from a dict (lists become tuples), rejecting unknown keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; valid: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value or {}, f"{where}.{key}")
        elif typing.get_origin(hint) is tuple and isinstance(value, (list, tuple)):
            kwargs[key] = tuple(value)  # YAML lists; frozen configs stay hashable
        elif hint in (int, float) and not isinstance(value, bool) and isinstance(value, (int, float)):
            kwargs[key] = hint(value)
        elif isinstance(hint, types.UnionType) or value is None or isinstance(value, hint):
            kwargs[key] = value
        else:
            raise ValueError(f"{where}.{key}: expected {hint.__name__}, got {value!r}")
    return cls(**kwargs)


def apply_override(data: dict, override: str) -> None:
    """Set ``section.field=value`` (the value parsed as YAML) in a preset's dict."""
    key, sep, value = override.partition("=")
    if not sep:
        raise ValueError(f"override {override!r} must look like section.field=value")
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = yaml.safe_load(value)


def preset_file(prefix: str, preset: str) -> Path:
    """A preset name (``tiny``, ``paper``) or a YAML path -> ``mmgt/presets/<prefix><name>.yaml``."""
    path = Path(preset)
    return path if path.suffix in (".yaml", ".yml") else PRESET_DIR / f"{prefix}{preset.replace('-', '_')}.yaml"


def load_preset(cls: type[C], prefix: str, preset: str, overrides: list[str] | tuple[str, ...] = (), what: str = "") -> C:
    """Load a preset of ``cls``, apply overrides, validate; a missing or bad file raises ``DataError`` naming it."""
    path = preset_file(prefix, preset)
    if not path.is_file():
        names = sorted(p.stem.removeprefix(prefix).replace("_", "-") for p in PRESET_DIR.glob(f"{prefix}*.yaml"))
        raise DataError(path, f"no such {what or prefix.rstrip('_')} preset; available: {', '.join(names)}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
        for override in overrides:
            apply_override(data, override)
        return from_dict(cls, data)
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        raise DataError(path, str(exc)) from None
