"""Two-stage rows: a pose source composed with a video generator (e.g. ``edge+animate-anyone``)."""

from __future__ import annotations

from dataclasses import replace

from mmgt.methods.base import Conditions, Generation, Method, MethodConfig, PoseSource, VideoGenerator
from mmgt.methods.registry import resolve


class Composed(Method):
    """``pose_source`` then ``video``; each named ``"module:Class"`` and built lazily.

    The pose source gets ``config.pose_checkpoint`` as its checkpoint; the video generator gets
    ``config.checkpoint``. The row is pose-driven exactly when its pose source is.
    """

    def __init__(self, config: MethodConfig = MethodConfig(), *, pose_source: str, video: str):
        super().__init__(config)
        self.pose_source: PoseSource = resolve(pose_source)(replace(config, checkpoint=config.pose_checkpoint))
        self.video: VideoGenerator = resolve(video)(config)
        self.name = f"{self.pose_source.name}+{self.video.name}"  # the registry renames it to its row name
        self.driven_by = self.pose_source.driven_by
        self.description = f"{self.pose_source.description} -> {self.video.description}"

    def generate(self, cond: Conditions) -> Generation:
        poses = self.pose_source.poses(cond)
        return Generation(self.video.render(cond, poses), poses)

    def missing_models(self) -> list:
        return self.pose_source.missing_models() + self.video.missing_models()

    def provenance(self) -> dict:
        return super().provenance() | {"pose_source": self.pose_source.provenance(), "video": self.video.provenance()}
