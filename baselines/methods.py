"""The baselines' table rows, registered with mmgt's method registry (which imports this module lazily)."""

from mmgt.methods.registry import register  # noqa: F401  (rows register below as their models land)
