"""Weights manifest and cache: lookup, missing-file errors, identifier checks (cached), lockfile, fetch, status, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess

import pytest
from typer.testing import CliRunner

import mmgt.weights as W
from mmgt.cli.weights import app
from mmgt.errors import DataError, MMGTError, WeightsMissingError

PAYLOAD = b"not really weights\n" * 100
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
BLOB = hashlib.sha1(b"blob %d\0" % len(PAYLOAD) + PAYLOAD).hexdigest()


def entry(url: str = "https://example.invalid/w.bin", digest: W.Digest | None = W.Digest("sha256", DIGEST),
          **kw) -> W.WeightsEntry:
    return W.WeightsEntry("toy", "w.bin", url, digest, None, "test", ("tests",), **kw)


def store(tmp_path, *entries: W.WeightsEntry, lockfile=None) -> W.WeightsStore:
    return W.WeightsStore(tmp_path, {e.name: e for e in entries or (entry(),)},
                          lockfile=lockfile or tmp_path / "no.lock.json")


def test_manifest_is_well_formed():
    names = [e.name for e in W.ENTRIES]
    assert len(set(names)) == len(names) and len({e.filename for e in W.ENTRIES}) == len(names)
    forms = {"sha256": r"[0-9a-f]{64}", "sha256-prefix": r"[0-9a-f]{8,63}", "git-blob-sha1": r"[0-9a-f]{40}"}
    for e in W.ENTRIES:
        assert e.digest is None or re.fullmatch(forms[e.digest.kind], e.digest.value)
        assert e.url.startswith(("https://", "http://")) and e.licence and e.used_by
        assert e.is_repo == bool(e.required) and (e.digest is None or not e.is_repo)
        if e.digest is not None and e.digest.kind == "sha256-prefix":  # torch.hub names carry their prefix
            assert e.filename.rsplit(".", 1)[0].endswith(f"-{e.digest.value}")
    assert W.MANIFEST["i3d-400"].digest == W.Digest("git-blob-sha1", "a867b87ac3a9097d200598b1d48a1b890d8ec744")
    assert W.MANIFEST["i3d-torchscript"].digest.kind == "git-blob-sha1"
    expected = {"pt_inception-2015-12-05-6726825d.pth", "i3d_pretrained_400.pt", "alexnet-owt-7be5be79.pth",
                "syncnet_v2.model", "sfd_face.pth", "yolox_l.onnx", "dw-ll_ucoco_384.onnx", "i3d_torchscript.pt",
                "mm_sd_v15_v2.ckpt"}
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
        W.WeightsStore(tmp_path, lockfile=tmp_path / "no.lock").resolve("syncnet-v2")
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
    real = W.file_digests
    monkeypatch.setattr(W, "file_digests", lambda p: calls.append(p) or real(p))
    s = store(tmp_path)
    assert s.resolve("toy") == tmp_path / "w.bin" and s.sha256("toy") == DIGEST
    assert store(tmp_path).resolve("toy") and len(calls) == 1  # remembered on disk, across instances
    (tmp_path / "w.bin").write_bytes(b"tampered")
    with pytest.raises(DataError, match="the manifest's sha256 is"):
        s.resolve("toy")
    assert len(calls) == 2


def test_git_blob_sha1_is_gits_own(tmp_path):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    git = subprocess.run(["git", "hash-object", str(tmp_path / "w.bin")], capture_output=True, text=True, check=True)
    assert W.file_digests(tmp_path / "w.bin") == {"sha256": DIGEST, "git-blob-sha1": git.stdout.strip()}
    assert BLOB == git.stdout.strip()


@pytest.mark.parametrize("kind, right, wrong", [
    ("sha256", DIGEST, "0" * 64), ("sha256-prefix", DIGEST[:8], "00000000"), ("git-blob-sha1", BLOB, "0" * 40)])
def test_each_identifier_kind_accepts_the_file_and_refuses_another(tmp_path, kind, right, wrong):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    assert store(tmp_path, entry(digest=W.Digest(kind, right))).resolve("toy") == tmp_path / "w.bin"
    with pytest.raises(DataError) as info:
        store(tmp_path, entry(digest=W.Digest(kind, wrong))).resolve("toy")
    message = str(info.value)
    actual = BLOB if kind == "git-blob-sha1" else DIGEST
    assert "\n" not in message and "'toy'" in message and actual in message and wrong in message, message
    assert "mmgt weights fetch toy" in message


def test_lockfile_pins_files_and_repo_folders(tmp_path):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    repo = dataclasses.replace(entry(digest=None, hf_repo="org/repo", required=("config.json",)), name="repo",
                               filename="repo")
    (tmp_path / "repo" / ".cache").mkdir(parents=True)
    (tmp_path / "repo" / "config.json").write_text("{}")
    (tmp_path / "repo" / ".cache" / "meta").write_text("hub bookkeeping, not locked")
    lockfile = tmp_path / "weights.lock.json"
    s = store(tmp_path, entry(digest=None), repo, lockfile=lockfile)
    assert {r.name: r.state for r in s.status()} == {"toy": "unchecked", "repo": "unchecked"}
    written = s.lock()
    assert written == {"toy": {"w.bin": DIGEST}, "repo": {"config.json": hashlib.sha256(b"{}").hexdigest()}}
    assert json.loads(lockfile.read_text())["files"] == written
    assert {r.name: r.state for r in s.status()} == {"toy": "ok", "repo": "ok"}
    assert s.resolve("toy") and s.resolve("repo")

    (tmp_path / "w.bin").write_bytes(b"same name, other bytes")
    with pytest.raises(DataError, match=r"'toy' have sha256 [0-9a-f]{64}, the lockfile's is " + DIGEST):
        s.resolve("toy")
    (tmp_path / "repo" / "model.safetensors").write_bytes(b"an added file changes what loads")
    with pytest.raises(DataError, match="model.safetensors.*lockfile's is none \\(not locked\\)"):
        s.resolve("repo")
    assert {r.name: r.state for r in s.status()} == {"toy": "mismatch", "repo": "mismatch"}


def test_lock_refuses_a_file_that_fails_its_identifier(tmp_path):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    lockfile = tmp_path / "weights.lock.json"
    with pytest.raises(DataError, match="the manifest's sha256 is"):
        store(tmp_path, entry(digest=W.Digest("sha256", "f" * 64)), lockfile=lockfile).lock()
    assert not lockfile.exists()


def test_repo_fetch_is_pinned_to_the_revision(tmp_path, monkeypatch):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: calls.append((repo, kw)))
    repo = entry(digest=None, hf_repo="org/repo", hf_revision="0123abcd", required=("config.json",))
    with pytest.raises(WeightsMissingError):  # the stub wrote nothing
        store(tmp_path, repo).fetch("toy")
    assert calls == [("org/repo", {"revision": "0123abcd", "local_dir": tmp_path / "w.bin", "allow_patterns": []})]


def test_repo_folders_need_their_required_files(tmp_path):
    repo = entry(digest=None, hf_repo="org/repo", required=("config.json", "model.safetensors|pytorch_model.bin"))
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
    with pytest.raises(DataError, match="the manifest's sha256 is 0{64}"):
        store(bad, entry(url=source.as_uri(), digest=W.Digest("sha256", "0" * 64))).fetch("toy")
    assert not [p for p in bad.iterdir() if p.name != W.HASH_CACHE]  # nothing half-written is left


def test_fetch_offline_fails_with_one_clear_line(tmp_path):
    with pytest.raises(MMGTError, match=r"cannot download 'toy' from http://127\.0\.0\.1:9/w\.bin .*by hand"):
        store(tmp_path, entry(url="http://127.0.0.1:9/w.bin")).fetch("toy", timeout=5)


def test_status_rows_and_cli(tmp_path):
    (tmp_path / "w.bin").write_bytes(PAYLOAD)
    (tmp_path / "v.bin").write_bytes(PAYLOAD)
    entries = {e.name: e for e in (entry(), dataclasses.replace(entry(digest=None), name="free"),
                                   dataclasses.replace(entry(digest=W.Digest("sha256", "f" * 64)), name="bad", filename="v.bin"),
                                   dataclasses.replace(entry(), name="gone", filename="x.bin"))}
    rows = {r.name: r.state for r in W.WeightsStore(tmp_path, entries, lockfile=tmp_path / "l.json").status(recheck=True)}
    assert rows == {"toy": "ok", "free": "unchecked", "bad": "mismatch", "gone": "missing"}

    runner = CliRunner()
    lock = ["--lockfile", str(tmp_path / "weights.lock.json")]
    result = runner.invoke(app, ["status", "--weights-dir", str(tmp_path), *lock])
    assert result.exit_code == 0 and "fid-inception" in result.output and "missing" in result.output
    (tmp_path / "alexnet-owt-7be5be79.pth").write_bytes(PAYLOAD)  # not the release: fails its sha256 prefix
    result = runner.invoke(app, ["verify", "--weights-dir", str(tmp_path), *lock])
    assert isinstance(result.exception, MMGTError) and "mismatch" in result.output
    assert "'alexnet' have sha256 " in result.output
    result = runner.invoke(app, ["lock", "--weights-dir", str(tmp_path), *lock])
    assert isinstance(result.exception, DataError) and not (tmp_path / "weights.lock.json").exists()
    (tmp_path / "alexnet-owt-7be5be79.pth").unlink()
    (tmp_path / "syncnet_v2.model").write_bytes(PAYLOAD)
    result = runner.invoke(app, ["lock", "--weights-dir", str(tmp_path), *lock])
    assert result.exit_code == 0 and "1 file(s) of 1 entr(ies) locked (syncnet-v2)" in result.output
    assert json.loads((tmp_path / "weights.lock.json").read_text())["files"] == {"syncnet-v2": {"syncnet_v2.model": DIGEST}}
    result = runner.invoke(app, ["fetch", "--weights-dir", str(tmp_path)])
    assert isinstance(result.exception, MMGTError) and "exactly one of NAME or --all" in str(result.exception)
