"""Face box tracks: from GT keypoints, and from MTCNN (real shipped weights) when keypoints are absent."""

from __future__ import annotations

import cv2
import numpy as np
import skimage.data

from eval.face_detector import MTCNNFaceDetector
from eval.protocol import Protocol
from eval.regions import face_crops, mouth_crops, track_from_detector


def test_mtcnn_track_on_astronaut_and_crops_have_protocol_shapes():
    img = cv2.resize(skimage.data.astronaut(), (256, 256))
    frames = np.stack([img] * 5 + [np.zeros_like(img)])  # last frame: no face, filled from neighbours
    protocol = Protocol()
    track = track_from_detector(frames, protocol, MTCNNFaceDetector())
    assert track is not None and track.source == "mtcnn"
    # the astronaut's face is in the upper middle of the image
    assert 90 < track.cx[-1] < 140 and 30 < track.cy[-1] < 90 and 15 < track.s[-1] < 40
    assert face_crops(frames, track, protocol).shape == (6, protocol.face_size, protocol.face_size, 3)
    assert mouth_crops(frames, track, protocol).shape == (6, 224, 224, 3)


def test_no_face_anywhere_gives_no_track():
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    assert track_from_detector(frames, Protocol(), MTCNNFaceDetector()) is None
