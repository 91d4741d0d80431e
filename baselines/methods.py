"""The baselines' table rows, registered with mmgt's method registry (which imports this module lazily)."""

from mmgt.methods.registry import register

register("mm-diffusion", "baselines.mm_diffusion.method:MMDiffusion")
