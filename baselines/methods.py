"""The baselines' table rows, registered with mmgt's method registry (which imports this module lazily)."""

from mmgt.methods.registry import register

ANIMATE_ANYONE = "baselines.animate_anyone:AnimateAnyone"
COMPOSED = "mmgt.methods.compose:Composed"

register("mm-diffusion", "baselines.mm_diffusion.method:MMDiffusion")
# Table II (pose-driven): ground-truth poses of the test clip -> AnimateAnyone.
register("animate-anyone", COMPOSED, pose_source="mmgt.methods.reference:GroundTruthPoses", video=ANIMATE_ANYONE)
# Table I (audio-driven): EDGE's poses from speech -> AnimateAnyone.
register("edge+animate-anyone", COMPOSED, pose_source="baselines.edge:EdgePoses", video=ANIMATE_ANYONE)
# Table I: EDGE's poses -> Hallo-adapted (MM-HAA, Hallo placement, static masks).
register("edge+hallo", COMPOSED, pose_source="baselines.edge:EdgePoses", video="baselines.hallo:HalloVideo")
# Table III "w/o SMGA": EDGE's poses -> MMGT stage 2 (MM-HAA with motion masks).
register("mmgt-edge-poses", COMPOSED, pose_source="baselines.edge:EdgePoses", video="mmgt.methods.mmgt_video:MMGTVideo")
