"""Generation methods (rows of the benchmark tables): interface, registry, composition, runner."""

from mmgt.methods.base import Conditions, Generation, Method, MethodConfig, PoseSource, VideoGenerator
from mmgt.methods.registry import build_method, method_names, register
from mmgt.methods.runner import conditions, run_method

__all__ = [
    "Conditions", "Generation", "Method", "MethodConfig", "PoseSource", "VideoGenerator",
    "build_method", "conditions", "method_names", "register", "run_method",
]
