"""S3FD face detection as joonson/syncnet_python's pipeline runs it (``detectors/s3fd``, ``sfd_face.pth``).

Written from syncnet_python's ``detectors/s3fd/{nets,box_utils,__init__}.py`` and ``run_pipeline.py``;
what matches, with its parameters:

- network (``nets.py`` ``S3FDNet``): VGG-16 to conv5_3 (the third max-pool with ``ceil_mode``), fc6 as a
  3x3 convolution with dilation 6, fc7 as 1x1; L2Norm (eps 1e-10, learnt per-channel scale, initialised
  10 / 8 / 5) on conv3_3, conv4_3, conv5_3; two extra stride-2 stages; six loc / conf heads; the first
  conf head has 3 background channels max-pooled into one ("max-out background label"); softmax over
  (background, face). Module names equal the reference's, so ``sfd_face.pth`` loads strictly.
- anchors (``box_utils.PriorBox``): one square anchor per cell of each head, strides 4..128, sizes
  16..512 pixels, centres ``(j + 0.5) / (W / stride)`` in coordinates normalised by the input size, not
  clipped.
- decoding and NMS (``box_utils.Detect``): variances (0.1, 0.2); face probability > 0.05; greedy NMS at
  IoU 0.3 over the 5000 most confident; at most 750 boxes kept, most confident first.
- preprocessing (``S3FD.detect_faces``): the RGB frame resized by ``scale`` with ``cv2.resize``
  (INTER_LINEAR), ``img_mean`` (104, 117, 123) subtracted in BGR order and the channels flipped back, so
  the network sees R - 123, G - 117, B - 104 in RGB order (S3FD was trained on BGR; the pipeline feeds
  it RGB after ``cv2.cvtColor(BGR2RGB)``: reproduced as is); boxes scaled back by the frame's own width
  and height; boxes with score above the threshold kept; a second greedy NMS at IoU 0.1.
- ``run_pipeline.py`` ``inference_video``: ``conf_th=0.9, scales=[0.25]`` (``--facedet_scale``), the
  defaults of :class:`eval.face_detector.S3FDSettings`.

Run one frame at a time in the package's form (``inference_form=False``), the boxes equal the
reference's to the last bit (tested against syncnet-python's own ``detectors.s3fd``). Differences: frames
of a video run as a batch and, in inference form, channels-last, which moves boxes and scores by float32
rounding only (~1e-6 relative); anchors are built vectorised (same float64 values, cast to float32 as the
reference's ``torch.FloatTensor``); the final 0.1 NMS runs in float64 through the same greedy code as the
0.3 one (the reference's numpy ``nms_`` adds the union's terms in another order; ties in score are broken
by torch's sort); the reference raises IndexError when all 750 kept boxes pass the threshold, here all 750
are returned.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eval.extractors.base import Extractor

# VGG-16 to conv5_3: output channels of each 3x3 convolution, "M" a 2x2 max-pool, "C" the same with ceil_mode
VGG_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "M", 512, 512, 512, "M")
STAGE_ENDS = (16, 23, 30)  # vgg indices after relu3_3, relu4_3, relu5_3: the L2-normalised sources
L2NORM_SCALES = {"L2Norm3_3": (256, 10.0), "L2Norm4_3": (512, 8.0), "L2Norm5_3": (512, 5.0)}
SOURCE_CHANNELS = (256, 512, 512, 1024, 512, 256)
BACKGROUND_MAXOUT = 3  # background channels of the first conf head, max-pooled into one

STEPS = (4, 8, 16, 32, 64, 128)
MIN_SIZES = (16, 32, 64, 128, 256, 512)
VARIANCES = (0.1, 0.2)
CANDIDATE_THRESHOLD = 0.05  # Detect.conf_thresh
NMS_IOU = 0.3  # Detect.nms_thresh
NMS_CANDIDATES = 5000  # Detect.nms_top_k
KEEP_TOP = 750  # Detect.top_k
FINAL_NMS_IOU = 0.1  # detect_faces: nms_(bboxes, 0.1)
RGB_MEAN = np.array([123.0, 117.0, 104.0], np.float32)  # img_mean (104, 117, 123) as it lands on RGB channels


class L2Norm(nn.Module):
    """Channel-wise L2 normalisation with a learnt per-channel scale (ParseNet), as in S3FD."""

    def __init__(self, channels: int, scale: float, eps: float = 1e-10):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.full((channels,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + self.eps
        return self.weight[None, :, None, None] * (x / norm)


def vgg_layers() -> nn.ModuleList:
    """VGG-16 to pool5, then fc6 (3x3, dilation 6) and fc7 (1x1), each convolution followed by ReLU."""
    layers: list[nn.Module] = []
    channels = 3
    for step in VGG_PLAN:
        if step in ("M", "C"):
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=step == "C"))
        else:
            layers += [nn.Conv2d(channels, step, 3, 1, padding=1), nn.ReLU(inplace=True)]
            channels = step
    layers += [nn.Conv2d(512, 1024, 3, 1, padding=6, dilation=6), nn.ReLU(inplace=True),
               nn.Conv2d(1024, 1024, 1, 1), nn.ReLU(inplace=True)]
    return nn.ModuleList(layers)


class S3FDNet(nn.Module):
    """S3FD: ``(N, 3, H, W)`` mean-subtracted RGB -> box offsets, face probabilities and anchors."""

    def __init__(self):
        super().__init__()
        self.vgg = vgg_layers()
        for name, (channels, scale) in L2NORM_SCALES.items():
            setattr(self, name, L2Norm(channels, scale))
        self.extras = nn.ModuleList([nn.Conv2d(1024, 256, 1, 1), nn.Conv2d(256, 512, 3, 2, padding=1),
                                     nn.Conv2d(512, 128, 1, 1), nn.Conv2d(128, 256, 3, 2, padding=1)])
        self.loc = nn.ModuleList([nn.Conv2d(c, 4, 3, 1, padding=1) for c in SOURCE_CHANNELS])
        self.conf = nn.ModuleList([nn.Conv2d(c, BACKGROUND_MAXOUT + 1 if k == 0 else 2, 3, 1, padding=1)
                                   for k, c in enumerate(SOURCE_CHANNELS)])

    def sources(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The six feature maps the heads read (strides 4 to 128)."""
        out, start = [], 0
        for end, norm in zip(STAGE_ENDS, L2NORM_SCALES):
            for layer in self.vgg[start:end]:
                x = layer(x)
            out.append(getattr(self, norm)(x))
            start = end
        for layer in self.vgg[start:]:
            x = layer(x)
        out.append(x)
        for k, layer in enumerate(self.extras):
            x = F.relu(layer(x), inplace=True)
            if k % 2 == 1:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(loc (N, P, 4), face probability (N, P), anchors (P, 4) as normalised cx, cy, w, h)``."""
        sources = self.sources(x)
        loc, conf = [], []
        for k, source in enumerate(sources):
            c = self.conf[k](source)
            if k == 0:
                background = c[:, :BACKGROUND_MAXOUT].amax(dim=1, keepdim=True)
                c = torch.cat((background, c[:, BACKGROUND_MAXOUT:]), dim=1)
            loc.append(self.loc[k](source).permute(0, 2, 3, 1).flatten(1, 2))
            conf.append(c.permute(0, 2, 3, 1).flatten(1, 2))
        anchors = prior_boxes(tuple(x.shape[2:]), [tuple(s.shape[2:]) for s in sources])
        face = torch.cat(conf, 1).softmax(dim=-1)[..., 1]
        return torch.cat(loc, 1), face, anchors.to(x.device)


def prior_boxes(input_hw: tuple[int, int], feature_hw: list[tuple[int, int]]) -> torch.Tensor:
    """``(P, 4)`` float32 anchors (cx, cy, w, h), normalised by the input size, rows then columns per head."""
    imh, imw = input_hw
    out = []
    for (fh, fw), step, size in zip(feature_hw, STEPS, MIN_SIZES):
        i, j = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx, cy = (j.ravel() + 0.5) / (imw / step), (i.ravel() + 0.5) / (imh / step)
        out.append(np.stack([cx, cy, np.full_like(cx, size / imw), np.full_like(cy, size / imh)], axis=1))
    return torch.from_numpy(np.concatenate(out).astype(np.float32))


def decode(loc: torch.Tensor, anchors: torch.Tensor, variances: tuple[float, float] = VARIANCES) -> torch.Tensor:
    """``(P, 4)`` offsets on ``(P, 4)`` anchors -> ``(P, 4)`` boxes (x0, y0, x1, y1), SSD's encoding."""
    centre = anchors[:, :2] + loc[:, :2] * variances[0] * anchors[:, 2:]
    size = anchors[:, 2:] * torch.exp(loc[:, 2:] * variances[1])
    corner = centre - size / 2
    return torch.cat((corner, size + corner), dim=1)


def greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float, top_k: int | None = None) -> torch.Tensor:
    """Indices of the boxes greedy NMS keeps, most confident first: a box goes when its IoU with a kept
    one exceeds ``iou``; only the ``top_k`` most confident take part."""
    order = scores.sort(0).indices.flip(0)[:top_k]
    x0, y0, x1, y1 = boxes.unbind(1)
    area = (x1 - x0) * (y1 - y0)
    keep = []
    while order.numel():
        i, rest = order[0], order[1:]
        keep.append(i)
        w = (x1[rest].clamp(max=x1[i]) - x0[rest].clamp(min=x0[i])).clamp(min=0.0)
        h = (y1[rest].clamp(max=y1[i]) - y0[rest].clamp(min=y0[i])).clamp(min=0.0)
        inter = w * h
        order = rest[inter / ((area[rest] - inter) + area[i]) <= iou]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)


def detect(loc: torch.Tensor, face: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """One image's ``(P, 4)`` offsets and ``(P,)`` face probabilities -> ``(n, 5)`` float32 rows
    (score, x0, y0, x1, y1) in normalised coordinates, most confident first (``Detect.forward``)."""
    candidate = face > CANDIDATE_THRESHOLD
    boxes, scores = decode(loc, anchors)[candidate], face[candidate]
    keep = greedy_nms(boxes, scores, NMS_IOU, NMS_CANDIDATES)[:KEEP_TOP]
    return torch.cat((scores[keep, None], boxes[keep]), dim=1)


class S3FDExtractor(Extractor):
    """S3FD with ``sfd_face.pth``: frames -> every face box above a confidence threshold."""

    name = "s3fd"
    weights_name = "s3fd"
    preprocessing = "RGB resized by scale (cv2 INTER_LINEAR), minus (123, 117, 104), CHW float32 (syncnet_python)"
    fast_memory_format: ClassVar[torch.memory_format] = torch.channels_last

    @classmethod
    def build(cls) -> S3FDNet:
        return S3FDNet()

    @staticmethod
    def preprocess(frames: np.ndarray, scale: float) -> torch.Tensor:
        """``(T, H, W, 3)`` uint8 RGB -> ``(T, 3, h, w)`` float32 network input (``detect_faces``'s arithmetic)."""
        resized = np.stack([cv2.resize(f, dsize=(0, 0), fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
                            for f in frames])
        return torch.from_numpy(resized.astype(np.float32) - RGB_MEAN).permute(0, 3, 1, 2)

    @torch.inference_mode()
    def detect_faces(self, frames: np.ndarray, scale: float, conf_threshold: float) -> list[np.ndarray]:
        """Per frame an ``(n, 5)`` float64 array (x0, y0, x1, y1, score) in the frame's pixels, most
        confident first: ``S3FD.detect_faces(frame, conf_th, scales=[scale])`` for a batch of same-size frames."""
        if len(frames) == 0:
            return []
        h, w = frames.shape[1:3]
        x = self.preprocess(frames, scale).to(self.device).contiguous(memory_format=self.memory_format)
        loc, face, anchors = self.net(x)
        size = torch.tensor([w, h, w, h], dtype=torch.float32)
        out = []
        for i in range(len(frames)):
            rows = detect(loc[i], face[i], anchors).cpu()
            rows = rows[rows[:, 0] > conf_threshold]
            found = torch.cat((rows[:, 1:] * size, rows[:, :1]), dim=1).double()
            out.append(found[greedy_nms(found[:, :4], found[:, 4], FINAL_NMS_IOU)].numpy())
        return out
