"""MM-Diffusion (Ruan et al., CVPR 2023) retrained on the split: the ``mm-diffusion`` row of Table I."""
