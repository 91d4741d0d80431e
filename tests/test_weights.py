"""Weights manifest and cache: lookup, missing-file errors, sha256 checks (cached), fetch, status, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest
from typer.testing import CliRunner

import mmgt.weights as W
from mmgt.cli.weights import app
from mmgt.errors import DataError, MMGTError, WeightsMissingError

PAYLOAD = b"not really weights\n" * 100
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def entry(url: str = "https://example.invalid/w.bin", sha256: str | None = DIGEST, **kw) -> W.WeightsEntry:
    return W.WeightsEntry("toy", "w.bin", url, sha256, None, "test", ("tests",), **kw)


def store(tmp_path, *entries: W.WeightsEntry) -> W.WeightsStore:
    return W.WeightsStore(tmp_path, {e.name: e for e in entries or (entry(),)})


def test_manifest_is_well_formed():
    names = [e.name for e in W.ENTRIES]
    assert len(set(names)) == len(names) and len({e.filename for e in W.ENTRIES}) == len(names)
    for e in W.ENTRIES:
        assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", e.sha256)
        assert e.url.startswith(("https://", "http://")) and e.licence and e.used_by
        assert e.is_repo == bool(e.required)
    expected = {"pt_inception-2015-12-05-6726825d.pth", "i3d_pretrained_400.pt", "alexnet-owt-7be5be79.pth",
                "syncnet_v2.model", "sfd_face.pth", "yolox_l.onnx", "dw-ll_ucoco_384.onnx"}
    assert expected <= {e.filename for e in W.ENTRIES}
    assert {"microsoft/wavlm-large", "facebook/wav2vec2-base-960h", "stabilityai/sd-vae-ft-mse",
            "lambdalabs/sd-image-variations-diffusers", "guoyww/animatediff-motion-adapter-v1-5-2"} <= {
        e.hf_repo for e in W.ENTRIES}


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_VAR, str(tmp_path / "env"))
    assert W.default_dir(tmp_path / "arg") == tmp_path / "arg"
    assert W.default_dir() == tmp_path / "env"
    monkeypatch.delenv(W.ENV_VAR)
    assert W.default_dir() == W.DEFAULT_DIR.expanduser()


def test_missing_file_is_one_line_naming_file_url_and_command(tmp_path):
    with pytest.raises(WeightsMissingError) as info:
        W.WeightsStore(tmp_path).resolve("syncnet-v2")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "syncnet_v2.model") in message
    assert W.MANIFEST["syncnet-v2"].url in message and "mmgt weights fetch syncnet-v2" in message


def test_lookup_by_name_or_file_name_and_unknown_names(tmp_path):
    s = W.WeightsStore(tmp_path)
    assert s.entry("yolox_l.onnx") is s.entry("dwpose-detector")
    with pytest.raises(MMGTError, match="unknown weights 'nope'; valid: fid-inception"):
        s.entry("nope")


def test_resolve_checks_the_hash_once_per_file_version(tmp_path, monkeypatch):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    calls = []
    real = W.sha256_file
    monkeypatch.setattr(W, "sha256_file", lambda p: calls.append(p) or real(p))
    s = store(tmp_path)
    assert s.resolve("toy") == tmp_path / "w.bin" and s.sha256("toy") == DIGEST
    assert store(tmp_path).resolve("toy") and len(calls) == 1  # remembered on disk, across instances
    (tmp_path / "w.bin").write_bytes(b"tampered")
    with pytest.raises(DataError, match="does not match the manifest"):
        s.resolve("toy")
    assert len(calls) == 2


def test_prefix_only_hashes_are_checked(tmp_path):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    assert store(tmp_path, entry(sha256=None, sha256_prefix=DIGEST[:8])).resolve("toy")
    with pytest.raises(DataError):
        store(tmp_path, entry(sha256=None, sha256_prefix="00000000")).resolve("toy")


def test_repo_folders_need_their_required_files(tmp_path):
    repo = entry(sha256=None, hf_repo="org/repo", required=("config.json", "model.safetensors|pytorch_model.bin"))
    s = store(tmp_path, repo)
    (tmp_path / "w.bin").mkdir()
    (tmp_path / "w.bin" / "config.json").write_text("{}")
    with pytest.raises(WeightsMissingError):
        s.resolve("toy")
    (tmp_path / "w.bin" / "pytorch_model.bin").write_bytes(b"x")
    assert s.resolve("toy") == tmp_path / "w.bin"


def test_fetch_downloads_atomically_and_checks_the_hash(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    assert store(cache, entry(url=source.as_uri())).fetch("toy").read_bytes() == PAYLOAD
    bad = tmp_path / "bad"
    with pytest.raises(DataError, match="does not match"):
        store(bad, entry(url=source.as_uri(), sha256="0" * 64)).fetch("toy")
    assert not [p for p in bad.iterdir() if p.name != W.HASH_CACHE]  # nothing half-written is left


def test_fetch_offline_fails_with_one_clear_line(tmp_path):
    with pytest.raises(MMGTError, match=r"cannot download 'toy' from http://127\.0\.0\.1:9/w\.bin .*by hand"):
        store(tmp_path, entry(url="http://127.0.0.1:9/w.bin")).fetch("toy", timeout=5)


def test_status_rows_and_cli(tmp_path):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    (tmp_path / "v.bin").write_bytes(PAYLOAD)
    entries = {e.name: e for e in (entry(), dataclasses.replace(entry(sha256=None), name="free"),
                                   dataclasses.replace(entry(sha256="f" * 64), name="bad", filename="v.bin"),
                                   dataclasses.replace(entry(), name="gone", filename="x.bin"))}
    rows = {r.name: r.state for r in W.WeightsStore(tmp_path, entries).status(recheck=True)}
    assert rows == {"toy": "ok", "free": "unchecked", "bad": "mismatch", "gone": "missing"}

    runner = CliRunner()
    result = runner.invoke(app, ["status", "--weights-dir", str(tmp_path)])
    assert result.exit_code == 0 and "fid-inception" in result.output and "missing" in result.output
    (tmp_path / "alexnet-owt-7be5be79.pth").write_bytes(PAYLOAD)  # not the release: fails its sha256 prefix
    result = runner.invoke(app, ["verify", "--weights-dir", str(tmp_path)])
    assert isinstance(result.exception, MMGTError) and "mismatch" in result.output
    result = runner.invoke(app, ["fetch", "--weights-dir", str(tmp_path)])
    assert isinstance(result.exception, MMGTError) and "exactly one of NAME or --all" in str(result.exception)
