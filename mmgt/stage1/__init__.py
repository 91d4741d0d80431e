"""Stage 1: audio -> pose sequence (SMGA), the shared Gaussian diffusion, training and generation."""
