"""One import direction: data contract <- {eval, models} <- orchestration; eval and the models never
import each other. Every import statement is checked, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mmgt", "eval", "baselines")

# module prefix -> layer (the longest matching prefix wins)
LAYERS = {
    "mmgt": "contract",  # mmgt.data, video_io, keypoints, masks, render, weights, errors, pose, features, ...
    "mmgt.stage1": "models", "mmgt.stage2": "models", "mmgt.methods": "models", "baselines": "models",
    "eval": "eval",
    "eval.cli": "orchestration", "mmgt.experiments": "orchestration", "mmgt.cli": "orchestration",
}
ALLOWED = {
    "contract": {"contract"},
    "models": {"contract", "models"},
    "eval": {"contract", "eval"},
    "orchestration": {"contract", "models", "eval", "orchestration"},
}


def layer(module: str) -> str:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute project modules imported by a file (``from mmgt import keypoints`` -> mmgt.keypoints)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            subs = {f"{base}.{a.name}" for a in node.names}
            real = {s for s in subs if (ROOT / Path(*s.split("."))).with_suffix(".py").exists() or (ROOT / Path(*s.split("."))).is_dir()}
            out |= real or {base}
    return {m for m in out if m.split(".")[0] in PACKAGES}


def project_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def violations() -> list[str]:
    bad = []
    for path in project_files():
        mod = module_name(path)
        for dep in sorted(imports(path)):
            if layer(dep) not in ALLOWED[layer(mod)]:
                bad.append(f"{mod} ({layer(mod)}) imports {dep} ({layer(dep)})")
    return bad


def test_layers_are_assigned_as_documented():
    assert layer("mmgt.data.layout") == "contract" and layer("mmgt.stage1.smga") == "models"
    assert layer("eval.metrics.fgd") == "eval" and layer("eval.cli") == "orchestration"
    assert layer("mmgt.experiments.tables") == "orchestration" and layer("baselines.edge") == "models"


def test_no_import_against_the_direction():
    assert violations() == []


@pytest.mark.parametrize("source, dep, ok", [
    ("mmgt.methods.x", "eval.harness", False), ("eval.harness", "mmgt.methods", False),
    ("eval.harness", "mmgt.data.layout", True), ("mmgt.experiments.tables", "eval.run", True),
    ("mmgt.video_io", "mmgt.stage1.smga", False),
])
def test_the_rule_itself(source, dep, ok):
    assert (layer(dep) in ALLOWED[layer(source)]) is ok
