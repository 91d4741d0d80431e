"""Data: the on-disk split layout, windows, the synthetic generator and PATS preparation."""
