"""Pretrained weights: the manifest of every file the project loads, the cache dir, identity checks, fetch, lock.

The cache dir is ``--weights-dir`` (an explicit argument), else ``$MMGT_WEIGHTS_DIR``, else
``~/.cache/mmgt-bench/weights``. A file entry lives at ``<dir>/<filename>``; a Hugging Face entry
is a folder ``<dir>/<filename>/`` as written by ``huggingface_hub.snapshot_download`` (at the entry's
pinned ``hf_revision`` where one is public).

Each file entry names the public identifier it is checked against (:class:`Digest`): a full sha256,
the sha256 prefix a torch.hub file name carries, or the git blob SHA-1 of a repository that commits
the file (``sha1(b"blob <size>\\0" + bytes)``). :meth:`WeightsStore.resolve` never downloads: a missing
file raises :class:`~mmgt.errors.WeightsMissingError` and a file that does not match its identifier
raises :class:`~mmgt.errors.DataError` (one line naming the entry and both hashes). Hashes are
remembered in ``<dir>/.sha256.json`` keyed by path, size and mtime, so a large file is hashed once.

The lockfile (``weights.lock.json`` in the project, or ``$MMGT_WEIGHTS_LOCK``), written by
``mmgt weights lock``, holds the sha256 of every fetched file (every file of a repo folder too); when it
exists, a file that differs from it is refused, so a lab's machines score with the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mmgt.errors import DataError, MMGTError, WeightsMissingError
from mmgt.provenance import ROOT
from mmgt.video_io import atomic_path

ENV_VAR = "MMGT_WEIGHTS_DIR"
LOCK_ENV_VAR = "MMGT_WEIGHTS_LOCK"
DEFAULT_DIR = Path("~/.cache/mmgt-bench/weights")
DEFAULT_LOCK = ROOT / "weights.lock.json"
HASH_CACHE = ".sha256.json"
CHUNK = 1 << 20
DIGEST_KINDS = ("sha256", "sha256-prefix", "git-blob-sha1")
HASHES = ("sha256", "git-blob-sha1")  # what file_digests computes (a prefix is checked against the sha256)


@dataclass(frozen=True)
class Digest:
    """The public identifier a file is checked against: ``kind`` is one of :data:`DIGEST_KINDS`."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in DIGEST_KINDS:
            raise ValueError(f"digest kind '{self.kind}' is not one of {DIGEST_KINDS}")

    def actual(self, digests: dict[str, str]) -> str:
        """The file's own hash of this kind, from :meth:`WeightsStore.file_digests`' result."""
        return digests["sha256" if self.kind == "sha256-prefix" else self.kind]

    def matches(self, digests: dict[str, str]) -> bool:
        actual = self.actual(digests)
        return actual.startswith(self.value) if self.kind == "sha256-prefix" else actual == self.value

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


@dataclass(frozen=True)
class WeightsEntry:
    """One weights file (or Hugging Face repo folder) the project can load."""

    name: str
    filename: str  # file, or folder for a Hugging Face repo, inside the cache dir
    url: str
    digest: Digest | None  # the public identifier the file is checked against; None: none is published
    size_mb: float | None  # approximate download size, for display; None when unknown
    licence: str
    used_by: tuple[str, ...]
    hf_repo: str | None = None  # Hugging Face repo id: the entry is a folder fetched from the Hub
    hf_revision: str | None = None  # the commit the folder is pinned to (None: the repo's main branch)
    hf_patterns: tuple[str, ...] = ()  # which repo files to fetch (snapshot_download allow_patterns)
    required: tuple[str, ...] = ()  # files a repo folder must hold; "a|b" means either

    @property
    def is_repo(self) -> bool:
        return self.hf_repo is not None


def _file(name: str, url: str, licence: str, used_by: tuple[str, ...], size_mb: float | None = None, *,
          digest: Digest | None = None) -> WeightsEntry:
    """A single-file entry stored under the URL's file name."""
    return WeightsEntry(name, url.rsplit("/", 1)[1], url, digest, size_mb, licence, used_by)


def _hf(name: str, repo: str, licence: str, used_by: tuple[str, ...], patterns: tuple[str, ...],
        required: tuple[str, ...], revision: str | None = None) -> WeightsEntry:
    """A Hugging Face repo entry, stored as the folder ``name``."""
    return WeightsEntry(name, name, f"https://huggingface.co/{repo}", None, None, licence, used_by,
                        hf_repo=repo, hf_revision=revision, hf_patterns=patterns, required=required)


VGG_LIPSYNC = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data"
DWPOSE = "https://huggingface.co/yzd-v/DWPose/resolve/main"
INSIGHTFACE_BUFFALO_L = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip"
TRANSFORMERS_FILES = ("*.json", "pytorch_model.bin", "model.safetensors", "*.txt")
TRANSFORMERS_REQUIRED = ("config.json", "preprocessor_config.json", "model.safetensors|pytorch_model.bin")
DIFFUSERS_MODEL_FILES = ("config.json", "diffusion_pytorch_model.safetensors")
# git blob SHA-1s of the two I3D files as TATS and common_metrics_on_video_quality commit them
I3D_400_BLOB = "a867b87ac3a9097d200598b1d48a1b890d8ec744"
I3D_TORCHSCRIPT_BLOB = "93daef59c7ae0e9e8f76225521407e60cbafa6aa"

ENTRIES: tuple[WeightsEntry, ...] = (
    _file("fid-inception",
          "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
          "Apache-2.0 (pytorch-fid port of the TF inception-2015-12-05 graph)", ("fid",), 91.0,
          digest=Digest("sha256-prefix", "6726825d")),
    _file("i3d-400", "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",
          "Apache-2.0 (DeepMind kinetics-i3d, ported by piergiaj/VideoGPT/TATS)", ("fvd", "kvd"), 49.0,
          digest=Digest("git-blob-sha1", I3D_400_BLOB)),
    _file("i3d-torchscript",
          "https://github.com/JunyaoHu/common_metrics_on_video_quality/raw/main/fvd/styleganv/i3d_torchscript.pt",
          "Apache-2.0 (DeepMind kinetics-i3d, TF-Hub weights as TorchScript by StyleGAN-V)", ("fvd", "kvd"), 51.0,
          digest=Digest("git-blob-sha1", I3D_TORCHSCRIPT_BLOB)),
    _file("alexnet", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
          "BSD-3-Clause (torchvision)", ("lpips",), 233.1, digest=Digest("sha256-prefix", "7be5be79")),
    # no public hash of these is known here: `mmgt weights lock` pins the bytes a lab fetched
    _file("syncnet-v2", f"{VGG_LIPSYNC}/syncnet_v2.model", "research use only (Oxford VGG, syncnet_python)", ("sync",)),
    _file("s3fd", f"{VGG_LIPSYNC}/sfd_face.pth", "research use only (S3FD via Oxford VGG syncnet_python)",
          ("sync face detection",)),
    _file("dwpose-detector", f"{DWPOSE}/yolox_l.onnx", "Apache-2.0 (DWPose / YOLOX)", ("pose",)),
    _file("dwpose-pose", f"{DWPOSE}/dw-ll_ucoco_384.onnx", "Apache-2.0 (DWPose)", ("pose",)),
    _file("animatediff-mm-v2", "https://huggingface.co/guoyww/animatediff/resolve/main/mm_sd_v15_v2.ckpt",
          "Apache-2.0 (AnimateDiff)", ("stage2 temporal layers (MMGT's config)",), 1820.0),
    WeightsEntry("arcface-w600k-r50", "w600k_r50.onnx", INSIGHTFACE_BUFFALO_L,  # a member of buffalo_l.zip
                 Digest("sha256", "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43"), None,
                 "non-commercial research only (insightface model zoo)", ("csim",)),
    _hf("wavlm-large", "microsoft/wavlm-large", "see model card (microsoft/unilm)", ("stage1 audio features",),
        TRANSFORMERS_FILES, TRANSFORMERS_REQUIRED),
    _hf("wav2vec2-base-960h", "facebook/wav2vec2-base-960h", "Apache-2.0", ("stage2 audio features",),
        TRANSFORMERS_FILES, TRANSFORMERS_REQUIRED),
    _hf("sd-1.5", "stable-diffusion-v1-5/stable-diffusion-v1-5", "CreativeML OpenRAIL-M", ("stage2", "baselines"),
        ("model_index.json", "scheduler/*", "tokenizer/*", "text_encoder/config.json",
         "text_encoder/model.safetensors", *(f"{m}/{f}" for m in ("unet", "vae") for f in DIFFUSERS_MODEL_FILES)),
        ("model_index.json", "unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
         "text_encoder/model.safetensors", "tokenizer/vocab.json")),
    _hf("sd-vae-ft-mse", "stabilityai/sd-vae-ft-mse", "MIT", ("stage2", "baselines"),
        DIFFUSERS_MODEL_FILES, DIFFUSERS_MODEL_FILES),
    _hf("sd-image-variations", "lambdalabs/sd-image-variations-diffusers", "CreativeML OpenRAIL-M",
        ("stage2 image encoder", "baselines"), ("image_encoder/*", "feature_extractor/*"),
        ("image_encoder/config.json", "image_encoder/model.safetensors|image_encoder/pytorch_model.bin")),
    _hf("animatediff-motion-adapter", "guoyww/animatediff-motion-adapter-v1-5-2", "Apache-2.0",
        ("stage2 temporal layers",), DIFFUSERS_MODEL_FILES, DIFFUSERS_MODEL_FILES),
)
MANIFEST: dict[str, WeightsEntry] = {entry.name: entry for entry in ENTRIES}


def default_dir(weights_dir: str | Path | None = None) -> Path:
    """``weights_dir``, else ``$MMGT_WEIGHTS_DIR``, else ``~/.cache/mmgt-bench/weights``."""
    chosen = weights_dir if weights_dir is not None else os.environ.get(ENV_VAR) or DEFAULT_DIR
    return Path(chosen).expanduser()


def default_lock(lockfile: str | Path | None = None) -> Path:
    """``lockfile``, else ``$MMGT_WEIGHTS_LOCK``, else ``weights.lock.json`` in the project."""
    chosen = lockfile if lockfile is not None else os.environ.get(LOCK_ENV_VAR) or DEFAULT_LOCK
    return Path(chosen).expanduser()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def file_digests(path: str | Path) -> dict[str, str]:
    """``{"sha256": ..., "git-blob-sha1": ...}`` of a file, in one read (blob: ``sha1(b"blob <size>\\0" + bytes)``)."""
    path = Path(path)
    sha256, blob = hashlib.sha256(), hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            sha256.update(block)
            blob.update(block)
    return {"sha256": sha256.hexdigest(), "git-blob-sha1": blob.hexdigest()}


@dataclass(frozen=True)
class StatusRow:
    """What :meth:`WeightsStore.status` reports for one entry."""

    name: str
    filename: str
    state: str  # "ok" (identifier and lock match), "unchecked" (present, nothing to check), "missing", "mismatch"
    sha256: str | None
    path: Path
    url: str
    licence: str
    used_by: tuple[str, ...]
    problem: str | None = None  # the one-line reason of a mismatch


class WeightsStore:
    """The weights cache dir with a manifest and the project's lockfile (tests pass their own)."""

    def __init__(self, weights_dir: str | Path | None = None, manifest: dict[str, WeightsEntry] | None = None,
                 lockfile: str | Path | None = None):
        self.root = default_dir(weights_dir)
        self.manifest = MANIFEST if manifest is None else manifest
        self.lockfile = default_lock(lockfile)

    # ----- lookup ------------------------------------------------------------------------
    def entry(self, name: str) -> WeightsEntry:
        """The entry called ``name`` (an entry name or its file name)."""
        for entry in self.manifest.values():
            if name in (entry.name, entry.filename):
                return entry
        raise MMGTError(f"unknown weights '{name}'; valid: {', '.join(self.manifest)}")

    def path(self, name: str) -> Path:
        return self.root / self.entry(name).filename

    def present(self, name: str) -> bool:
        entry, path = self.entry(name), self.path(name)
        if not entry.is_repo:
            return path.is_file()
        return all(any((path / option).is_file() for option in need.split("|")) for need in entry.required)

    def files(self, name: str) -> dict[str, Path]:
        """The files of a present entry by their path inside it: the file itself, or every file of a repo folder
        (the Hub client's ``.cache`` bookkeeping left out)."""
        entry, path = self.entry(name), self.path(name)
        if not entry.is_repo:
            return {entry.filename: path}
        return {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*"))
                if p.is_file() and ".cache" not in p.relative_to(path).parts}

    # ----- hashes ------------------------------------------------------------------------
    def file_digests(self, path: str | Path, *, recheck: bool = False) -> dict[str, str]:
        """sha256 and git blob SHA-1 of ``path``, remembered in the cache dir by path, size and mtime
        (``recheck``: rehash)."""
        path = Path(path).resolve()
        stat = path.stat()
        key, stamp = str(path), [stat.st_size, stat.st_mtime_ns]
        known = self._hash_cache().get(key, {})
        if not recheck and known.get("stamp") == stamp and set(HASHES) <= set(known):
            return {kind: known[kind] for kind in HASHES}
        digests = file_digests(path)
        self._remember(key, {"stamp": stamp, **digests})
        return digests

    def file_sha256(self, path: str | Path, *, recheck: bool = False) -> str:
        """sha256 of ``path`` (remembered as :meth:`file_digests`)."""
        return self.file_digests(path, recheck=recheck)["sha256"]

    def _hash_cache(self) -> dict:
        try:
            return json.loads((self.root / HASH_CACHE).read_text())
        except (OSError, ValueError):
            return {}

    def _remember(self, key: str, record: dict) -> None:
        try:
            known = self._hash_cache() | {key: record}
            with atomic_path(self.root / HASH_CACHE) as tmp:
                tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        except OSError:  # a read-only cache dir still works, it just hashes again next time
            pass

    # ----- checks ------------------------------------------------------------------------
    def _check(self, entry: WeightsEntry, path: Path, digests: dict[str, str]) -> None:
        """Refuse a file whose hash differs from the manifest's identifier (one line: entry, both hashes)."""
        if entry.digest is not None and not entry.digest.matches(digests):
            kind = entry.digest.kind.removesuffix("-prefix")
            raise DataError(path, f"weights '{entry.name}' have {kind} {entry.digest.actual(digests)}, the manifest's "
                                  f"{entry.digest.kind} is {entry.digest.value}; delete the file and run "
                                  f"`mmgt weights fetch {entry.name}`")

    def locked(self) -> dict[str, dict[str, str]]:
        """The lockfile's ``{entry: {file: sha256}}`` (empty when there is no lockfile)."""
        try:
            return json.loads(self.lockfile.read_text())["files"]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError):
            raise DataError(self.lockfile, "not a weights lockfile; rewrite it with `mmgt weights lock`") from None

    def _check_lock(self, entry: WeightsEntry, hashes: dict[str, str]) -> None:
        """Refuse files that differ from the lockfile's (a file added, missing or changed)."""
        expected = self.locked().get(entry.name)
        if expected is None or expected == hashes:
            return
        changed = sorted(set(expected) ^ set(hashes) | {f for f in expected.keys() & hashes if expected[f] != hashes[f]})
        first = changed[0]
        raise DataError(self.path(entry.name) / first if entry.is_repo else self.path(entry.name),
                        f"weights '{entry.name}' have sha256 {hashes.get(first, 'none (no such file)')}, the lockfile's "
                        f"is {expected.get(first, 'none (not locked)')} ({self.lockfile}; {len(changed)} file(s) differ); "
                        f"fetch the locked files or rerun `mmgt weights lock`")

    def identified_hashes(self, name: str, *, recheck: bool = False) -> dict[str, str]:
        """``{file: sha256}`` of a present entry whose file matches its manifest identifier (raises otherwise)."""
        entry, hashes = self.entry(name), {}
        for rel, path in self.files(name).items():
            digests = self.file_digests(path, recheck=recheck)
            if not entry.is_repo:
                self._check(entry, path, digests)
            hashes[rel] = digests["sha256"]
        return hashes

    def checked_hashes(self, name: str, *, recheck: bool = False) -> dict[str, str]:
        """``{file: sha256}`` of a present entry after the manifest's and the lockfile's checks (raises on a mismatch);
        a repo folder the lockfile does not list has nothing to check and is not hashed (``{}``)."""
        entry = self.entry(name)
        if entry.is_repo and entry.name not in self.locked():
            return {}
        hashes = self.identified_hashes(name, recheck=recheck)
        self._check_lock(entry, hashes)
        return hashes

    # ----- the API ---------------------------------------------------------------------
    def resolve(self, name: str) -> Path:
        """The checked local path of ``name``; raises when it is missing or differs from manifest or lockfile."""
        entry, path = self.entry(name), self.path(name)
        if not self.present(name):
            raise WeightsMissingError(entry.name, path, entry.url)
        self.checked_hashes(name)
        return path

    def sha256(self, name: str) -> str:
        """The sha256 of a present, checked file entry (what results record as its weights)."""
        return self.file_sha256(self.resolve(name))

    def lock(self) -> dict[str, dict[str, str]]:
        """Write the sha256 of every file of every present entry to the lockfile (each checked against its
        manifest identifier first); returns what was written."""
        files = {name: self.identified_hashes(name, recheck=True) for name in self.manifest if self.present(name)}
        with atomic_path(self.lockfile) as tmp:
            tmp.write_text(json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True) + "\n")
        return files

    def fetch(self, name: str, *, timeout: float = 60.0) -> Path:
        """Download ``name`` into the cache dir (no-op when present); checks the identifier before keeping it."""
        entry, path = self.entry(name), self.path(name)
        if self.present(name):
            return self.resolve(name)
        if entry.is_repo:
            self._fetch_repo(entry, path)
            return self.resolve(name)
        try:
            with urllib.request.urlopen(entry.url, timeout=timeout) as response, atomic_path(path) as tmp:
                with open(tmp, "wb") as out:
                    while block := response.read(CHUNK):
                        out.write(block)
                self._check(entry, path, file_digests(tmp))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise MMGTError(f"cannot download '{entry.name}' from {entry.url} ({getattr(exc, 'reason', exc)}); "
                            f"place {entry.filename} in {self.root} by hand") from None
        return self.resolve(name)

    def _fetch_repo(self, entry: WeightsEntry, path: Path) -> None:
        from huggingface_hub import snapshot_download

        try:
            snapshot_download(entry.hf_repo, revision=entry.hf_revision, local_dir=path,
                              allow_patterns=list(entry.hf_patterns))
        except Exception as exc:  # the Hub client raises many transport-specific types; all mean "not fetched"
            raise MMGTError(f"cannot download '{entry.name}' from {entry.url} ({type(exc).__name__}); "
                            f"put a save_pretrained folder at {path} by hand") from None

    def status(self, *, recheck: bool = False) -> list[StatusRow]:
        """One row per manifest entry; ``recheck`` rehashes every present file."""
        rows, locked = [], self.locked()
        for entry in self.manifest.values():
            path, state, digest, problem = self.path(entry.name), "missing", None, None
            if self.present(entry.name):
                try:
                    hashes = self.checked_hashes(entry.name, recheck=recheck)
                    checked = entry.digest is not None or entry.name in locked
                    state = "ok" if checked else "unchecked"
                    digest = None if entry.is_repo else hashes[entry.filename]
                except DataError as err:
                    state, problem = "mismatch", str(err)
            rows.append(StatusRow(entry.name, entry.filename, state, digest, path, entry.url, entry.licence,
                                  entry.used_by, problem))
        return rows


def resolve(name: str, weights_dir: str | Path | None = None) -> Path:
    """:meth:`WeightsStore.resolve` on the default (or given) cache dir."""
    return WeightsStore(weights_dir).resolve(name)
