"""Pretrained weights: the manifest of every file the project loads, the cache dir, sha256 checks, fetch.

The cache dir is ``--weights-dir`` (an explicit argument), else ``$MMGT_WEIGHTS_DIR``, else
``~/.cache/mmgt-bench/weights``. A file entry lives at ``<dir>/<filename>``; a Hugging Face entry
is a folder ``<dir>/<filename>/`` as written by ``huggingface_hub.snapshot_download``.

:meth:`WeightsStore.resolve` never downloads: a missing file raises
:class:`~mmgt.errors.WeightsMissingError` (one line naming the file, its URL and the fetch command)
and a file whose sha256 differs from the manifest raises :class:`~mmgt.errors.DataError`. Hashes
are remembered in ``<dir>/.sha256.json`` keyed by path, size and mtime, so a large file is hashed
once, not at every load.
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
from mmgt.video_io import atomic_path

ENV_VAR = "MMGT_WEIGHTS_DIR"
DEFAULT_DIR = Path("~/.cache/mmgt-bench/weights")
HASH_CACHE = ".sha256.json"
CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsEntry:
    """One weights file (or Hugging Face repo folder) the project can load."""

    name: str
    filename: str  # file, or folder for a Hugging Face repo, inside the cache dir
    url: str
    sha256: str | None  # full sha256 when known; None: unknown (recorded, not checked)
    size_mb: float | None  # approximate download size, for display; None when unknown
    licence: str
    used_by: tuple[str, ...]
    sha256_prefix: str | None = None  # torch.hub-style prefix carried in the file name
    hf_repo: str | None = None  # Hugging Face repo id: the entry is a folder fetched from the Hub
    hf_patterns: tuple[str, ...] = ()  # which repo files to fetch (snapshot_download allow_patterns)
    required: tuple[str, ...] = ()  # files a repo folder must hold; "a|b" means either

    @property
    def is_repo(self) -> bool:
        return self.hf_repo is not None


def _file(name: str, url: str, licence: str, used_by: tuple[str, ...], size_mb: float | None = None, *,
          sha256: str | None = None, sha256_prefix: str | None = None) -> WeightsEntry:
    """A single-file entry stored under the URL's file name."""
    return WeightsEntry(name, url.rsplit("/", 1)[1], url, sha256, size_mb, licence, used_by, sha256_prefix)


def _hf(name: str, repo: str, licence: str, used_by: tuple[str, ...], patterns: tuple[str, ...],
        required: tuple[str, ...]) -> WeightsEntry:
    """A Hugging Face repo entry, stored as the folder ``name``."""
    return WeightsEntry(name, name, f"https://huggingface.co/{repo}", None, None, licence, used_by,
                        hf_repo=repo, hf_patterns=patterns, required=required)


VGG_LIPSYNC = "http://www.robots.ox.ac.uk/~vgg/software/lipsync/data"
DWPOSE = "https://huggingface.co/yzd-v/DWPose/resolve/main"
INSIGHTFACE_BUFFALO_L = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip"
TRANSFORMERS_FILES = ("*.json", "pytorch_model.bin", "model.safetensors", "*.txt")
TRANSFORMERS_REQUIRED = ("config.json", "preprocessor_config.json", "model.safetensors|pytorch_model.bin")
DIFFUSERS_MODEL_FILES = ("config.json", "diffusion_pytorch_model.safetensors")

ENTRIES: tuple[WeightsEntry, ...] = (
    _file("fid-inception",
          "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
          "Apache-2.0 (pytorch-fid port of the TF inception-2015-12-05 graph)", ("fid",), 91.0),
    _file("i3d-400", "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",
          "Apache-2.0 (DeepMind kinetics-i3d, ported by piergiaj/VideoGPT/TATS)", ("fvd", "kvd"), 49.0),
    _file("alexnet", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
          "BSD-3-Clause (torchvision)", ("lpips",), 233.1, sha256_prefix="7be5be79"),
    _file("syncnet-v2", f"{VGG_LIPSYNC}/syncnet_v2.model", "research use only (Oxford VGG, syncnet_python)", ("sync",)),
    _file("s3fd", f"{VGG_LIPSYNC}/sfd_face.pth", "research use only (S3FD via Oxford VGG syncnet_python)",
          ("sync face detection",)),
    _file("dwpose-detector", f"{DWPOSE}/yolox_l.onnx", "Apache-2.0 (DWPose / YOLOX)", ("pose",)),
    _file("dwpose-pose", f"{DWPOSE}/dw-ll_ucoco_384.onnx", "Apache-2.0 (DWPose)", ("pose",)),
    WeightsEntry("arcface-w600k-r50", "w600k_r50.onnx", INSIGHTFACE_BUFFALO_L,
                 "4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43", None,
                 "non-commercial research only (insightface model zoo)", ("csim",)),  # a member of buffalo_l.zip
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


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class StatusRow:
    """What :meth:`WeightsStore.status` reports for one entry."""

    name: str
    filename: str
    state: str  # "ok" (hash matches), "unchecked" (present, no known hash), "missing", "mismatch"
    sha256: str | None
    path: Path
    url: str
    licence: str
    used_by: tuple[str, ...]


class WeightsStore:
    """The weights cache dir with a manifest (tests pass their own manifest)."""

    def __init__(self, weights_dir: str | Path | None = None, manifest: dict[str, WeightsEntry] | None = None):
        self.root = default_dir(weights_dir)
        self.manifest = MANIFEST if manifest is None else manifest

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

    # ----- hashes ------------------------------------------------------------------------
    def file_sha256(self, path: str | Path, *, recheck: bool = False) -> str:
        """sha256 of ``path``, remembered in the cache dir by path, size and mtime (``recheck``: rehash)."""
        path = Path(path).resolve()
        stat = path.stat()
        key, stamp = str(path), [stat.st_size, stat.st_mtime_ns]
        known = self._hash_cache()
        if not recheck and key in known and known[key]["stamp"] == stamp:
            return known[key]["sha256"]
        digest = sha256_file(path)
        self._remember(key, stamp, digest)
        return digest

    def _hash_cache(self) -> dict:
        try:
            return json.loads((self.root / HASH_CACHE).read_text())
        except (OSError, ValueError):
            return {}

    def _remember(self, key: str, stamp: list[int], digest: str) -> None:
        try:
            known = self._hash_cache() | {key: {"stamp": stamp, "sha256": digest}}
            with atomic_path(self.root / HASH_CACHE) as tmp:
                tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        except OSError:  # a read-only cache dir still works, it just hashes again next time
            pass

    def _check(self, entry: WeightsEntry, path: Path, digest: str) -> None:
        expected = entry.sha256 or entry.sha256_prefix
        if expected and not digest.startswith(expected):
            raise DataError(path, f"sha256 {digest} does not match the manifest's {expected} for '{entry.name}'; "
                                  f"delete it and run `mmgt weights fetch {entry.name}`")

    # ----- the API ---------------------------------------------------------------------
    def resolve(self, name: str) -> Path:
        """The checked local path of ``name``; raises when it is missing or its hash is wrong."""
        entry, path = self.entry(name), self.path(name)
        if not self.present(name):
            raise WeightsMissingError(entry.name, path, entry.url)
        if not entry.is_repo:
            self._check(entry, path, self.file_sha256(path))
        return path

    def sha256(self, name: str) -> str:
        """The sha256 of a present, checked file entry (what results record as its weights)."""
        return self.file_sha256(self.resolve(name))

    def fetch(self, name: str, *, timeout: float = 60.0) -> Path:
        """Download ``name`` into the cache dir (no-op when present); checks the hash before keeping it."""
        entry, path = self.entry(name), self.path(name)
        if self.present(name):
            return self.resolve(name)
        if entry.is_repo:
            self._fetch_repo(entry, path)
            return self.resolve(name)
        try:
            with urllib.request.urlopen(entry.url, timeout=timeout) as response, atomic_path(path) as tmp:
                digest = hashlib.sha256()
                with open(tmp, "wb") as out:
                    while block := response.read(CHUNK):
                        digest.update(block)
                        out.write(block)
                self._check(entry, path, digest.hexdigest())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise MMGTError(f"cannot download '{entry.name}' from {entry.url} ({getattr(exc, 'reason', exc)}); "
                            f"place {entry.filename} in {self.root} by hand") from None
        return self.resolve(name)

    def _fetch_repo(self, entry: WeightsEntry, path: Path) -> None:
        from huggingface_hub import snapshot_download

        try:
            snapshot_download(entry.hf_repo, local_dir=path, allow_patterns=list(entry.hf_patterns))
        except Exception as exc:  # the Hub client raises many transport-specific types; all mean "not fetched"
            raise MMGTError(f"cannot download '{entry.name}' from {entry.url} ({type(exc).__name__}); "
                            f"put a save_pretrained folder at {path} by hand") from None

    def status(self, *, recheck: bool = False) -> list[StatusRow]:
        """One row per manifest entry; ``recheck`` rehashes every present file."""
        rows = []
        for entry in self.manifest.values():
            path = self.path(entry.name)
            state, digest = ("missing", None) if not self.present(entry.name) else ("unchecked", None)
            if state != "missing" and not entry.is_repo:
                digest = self.file_sha256(path, recheck=recheck)
                try:
                    self._check(entry, path, digest)
                    state = "ok" if (entry.sha256 or entry.sha256_prefix) else "unchecked"
                except DataError:
                    state = "mismatch"
            rows.append(StatusRow(entry.name, entry.filename, state, digest, path, entry.url, entry.licence,
                                  entry.used_by))
        return rows


def resolve(name: str, weights_dir: str | Path | None = None) -> Path:
    """:meth:`WeightsStore.resolve` on the default (or given) cache dir."""
    return WeightsStore(weights_dir).resolve(name)
