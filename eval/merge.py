"""``mmgt-eval merge``: combine ``--shard i/N`` partial states into one results directory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from eval.config import EvalConfig
from eval.harness import ClipOutcome, Evaluator
from eval.pairing import Pairing
from eval.protocol import Protocol
from eval.run import PARTIAL_META, assemble, load_partial, merge_states, write_run
from mmgt.errors import DataError, MMGTError


def _config_from(meta: dict) -> EvalConfig:
    c = meta["config"]
    return EvalConfig(
        pred=Path(meta["inputs"]["pred"]), gt=Path(meta["inputs"]["gt"]), metrics=tuple(c["metrics"]),
        regions=tuple(c["regions"]), split=c["split"], protocol=Protocol(**meta["protocol"]),
        allow_untrained=c["allow_untrained"], batch_size=c["batch_size"], cache_dir=None, progress=False,
        bootstrap=c["bootstrap"]["B"], bootstrap_seed=c["bootstrap"]["seed"],
    )


# what must agree across shards; what is copied from them (never rebuilt from the merging process)
MUST_AGREE = ("protocol", "inputs", "extractors", "untrained_extractors", "gesture_keypoints", "face_track")
PER_METRIC_PROVENANCE = ("extractor", "weights", "untrained")


def _code(meta: dict) -> tuple:
    git = meta.get("package", {}).get("git", {})
    return git.get("commit"), git.get("dirty")


def check_same_provenance(path: Path, meta: dict, first: dict) -> None:
    """A shard must match the first shard in settings, inputs, protocol, extractors (weights, random
    init) and code; otherwise one line names the shard and what differs."""
    if {k: v for k, v in meta["config"].items() if k != "shard"} != {k: v for k, v in first["config"].items() if k != "shard"}:
        raise DataError(path, "shard was made with other settings than the first shard")
    for key in MUST_AGREE:
        if meta.get(key) != first.get(key):
            raise DataError(path, f"shard differs from the first shard in {key}")
    if _code(meta) != _code(first):
        raise DataError(path, f"shard was computed by other code (git {_code(meta)} vs {_code(first)})")


def return_shard_provenance(results: dict, first: dict) -> None:
    """Provenance of a merged run is the shards' (checked equal), not the merging process's: shards
    computed with random-init networks stay marked wherever they are merged."""
    for key in ("extractors", "untrained_extractors", "face_track", "package", "environment"):
        results[key] = first[key]
    for region, outs in results["metrics"].items():
        for out, entry in outs.items():
            shard_entry = first["metrics"].get(region, {}).get(out, {})
            entry.update({k: shard_entry.get(k) for k in PER_METRIC_PROVENANCE})


def shard_folders(paths: list[Path]) -> list[Path]:
    """Shard state folders: each path is one (holding partial.json), or an --out root holding ``shard-i-of-N`` folders."""
    found = []
    for path in paths:
        if not path.is_dir():
            raise DataError(path, "not found or not a folder (give shard folders or the --out of the shard runs)")
        inner = sorted(p for p in path.glob("shard-*-of-*") if (p / PARTIAL_META).is_file())
        found += [path] if (path / PARTIAL_META).is_file() or not inner else inner
    return found


def merge_shards(shards: list[Path], out_root: Path) -> tuple[dict, Path]:
    """Merge every shard of one sharded run; all N shards must be present exactly once."""
    loaded = [(s, *load_partial(s)) for s in shard_folders(shards)]
    first = loaded[0][2]
    n = first["config"]["shard"][1]
    seen = sorted(meta["config"]["shard"][0] for _, _, meta in loaded)
    if seen != list(range(n)):
        raise MMGTError(f"merge needs shards 0..{n - 1} exactly once, got {seen}")
    for path, _, meta in loaded:
        check_same_provenance(path, meta, first)
    config = replace(_config_from(first), shard=(0, 1))
    ev = Evaluator(config)
    states = ev.new_states()
    outcomes: list[ClipOutcome] = []
    for _, state_dicts, meta in loaded:
        merge_states(states, state_dicts, ev)
        clips = meta["clips"]
        outcomes += [ClipOutcome(cid, {}) for cid in clips["evaluated"]]
        outcomes += [ClipOutcome(cid, None, err) for cid, err in clips["failed"].items()]
        no_face, resized = set(clips["no_face"]), clips.get("resized", {})
        faces, resampled = clips.get("faces", {}), clips.get("resampled", {})
        outcomes = [ClipOutcome(o.clip_id, o.contribution, o.error, o.clip_id in no_face or o.no_face,
                                o.resized or resized.get(o.clip_id), o.faces or faces.get(o.clip_id),
                                o.resampled or resampled.get(o.clip_id)) for o in outcomes]
    pairing = Pairing(pairs=ev.pairing().pairs, missing=first["clips"]["missing"], extra=first["clips"]["extra"])
    seconds = sum(meta["timing"]["seconds"] for _, _, meta in loaded)
    results = assemble(config, ev, pairing, states, sorted(outcomes, key=lambda o: o.clip_id), seconds)
    results["config"]["merged_shards"] = n
    return_shard_provenance(results, first)
    return results, write_run(results, states, out_root, "merged")
