"""What every feature extractor shares: real weights from the cache, or (only when asked) a seeded random init.

An extractor built from random weights says so: ``weights == "random-init"`` and ``untrained``
is True, and the harness marks every value it produces. Building one needs ``allow_untrained=True``;
otherwise a missing weights file stops with :class:`~mmgt.errors.WeightsMissingError`.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Self

import numpy as np
import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from mmgt.errors import WeightsMissingError
from mmgt.weights import WeightsStore

RANDOM_INIT = "random-init"


class UntrainedExtractorWarning(UserWarning):
    """An extractor runs on random weights: its numbers are not real metric values."""


NUMERICS = "float32, TF32 off (cuDNN and matmul), deterministic algorithms"  # what exact_numerics() sets


@contextmanager
def exact_numerics() -> Iterator[None]:
    """Run the block in full float32 (TF32 off for cuDNN convolutions and CUDA matmuls, where Ampere and newer
    GPUs default cuDNN to TF32: ~1e-3 relative error in features), with deterministic algorithms where torch
    offers them (cuDNN deterministic, no autotuning; ``use_deterministic_algorithms`` in warn-only mode, so an
    op without a deterministic kernel warns instead of failing). Every flag is restored afterwards."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.allow_tf32, matmul.allow_tf32, cudnn.deterministic, cudnn.benchmark,
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    cudnn.allow_tf32 = matmul.allow_tf32 = False
    cudnn.deterministic, cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32, cudnn.deterministic, cudnn.benchmark = saved[:4]
        torch.use_deterministic_algorithms(saved[4], warn_only=saved[5])


def device_name(device: str | torch.device) -> str:
    """The hardware that computes features, for provenance and cache keys: the GPU model, or torch's CPU
    kernel capability (features are equal only on equal hardware; docs/PROTOCOL.md)."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({torch.backends.cpu.get_cpu_capability()})"


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's CPU generator seeded, leaving the global generator as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class Extractor(ABC):
    """A network that turns decoded frames (or audio) into the features a metric needs.

    A subclass names its manifest entry (``weights_name``) and builds its architecture (``build``);
    it overrides ``load_into`` / ``randomise`` / ``from_weights`` / ``random_init`` where loading differs.
    """

    name: ClassVar[str]
    weights_name: ClassVar[str]  # entry in mmgt.weights.MANIFEST
    preprocessing: ClassVar[str]  # recorded in results and in cache keys
    # layout of conv weights and inputs in inference form: channels-last runs oneDNN's faster kernels on
    # CPU (1.4-2x for Inception, I3D, LPIPS's AlexNet and SyncNet's lip stream here)
    fast_memory_format: ClassVar[torch.memory_format] = torch.contiguous_format
    # module types whose forward is bn(layer(x)), with the (layer, bn) attribute names, for fold_batchnorm
    conv_then_bn: ClassVar[dict[type[torch.nn.Module], tuple[str, str]]] = {}

    def __init__(self, net: torch.nn.Module, weights: str, source: str, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        for parameter in self.net.parameters():  # per parameter: TorchScript modules have no requires_grad_
            parameter.requires_grad_(False)
        self.weights = weights  # sha256 of the weights file, or "random-init"
        self.source = source  # which file (or package file) the weights came from
        self.memory_format = torch.contiguous_format  # of the weights and the inputs, as the net runs now
        self.layout = layout_name(self.memory_format, folded=0)

    def to_inference_form(self) -> Self:
        """Fold every eval BatchNorm into the layer before it and lay weights out in ``fast_memory_format``.

        The features change only by float32 rounding (~1e-6 relative); ``layout`` in the provenance (and
        so the feature-cache key) records the form. ``load`` returns extractors in this form.
        """
        folded = fold_batchnorm(self.net, self.conv_then_bn)
        self.fast_part(self.net).to(memory_format=self.fast_memory_format)
        self.memory_format = self.fast_memory_format
        self.layout = layout_name(self.memory_format, folded)
        return self

    @property
    def untrained(self) -> bool:
        return self.weights == RANDOM_INIT

    def provenance(self) -> dict[str, str | bool]:
        """What results.json records about this extractor."""
        return {"extractor": self.name, "weights": self.weights, "untrained": self.untrained,
                "source": self.source, "preprocessing": self.preprocessing,
                "layout": self.layout, "device": device_name(self.device), "dtype": self.dtype, "numerics": NUMERICS}

    @property
    def dtype(self) -> str:
        """The dtype of the network's parameters (``float32``)."""
        return str(next(self.net.parameters()).dtype).removeprefix("torch.")

    @classmethod
    def fast_part(cls, net: torch.nn.Module) -> torch.nn.Module:
        """The part of ``net`` laid out in ``fast_memory_format`` (and fed inputs in it): all of it by default."""
        return net

    @classmethod
    def build(cls) -> torch.nn.Module:
        """The architecture, with torch's default random weights (needed by the default loaders)."""
        raise NotImplementedError(f"{cls.__name__} overrides from_weights and random_init instead")

    @classmethod
    def load_into(cls, net: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
        """Put a checkpoint's state dict into ``net`` (strict by default)."""
        net.load_state_dict(state)

    @classmethod
    def randomise(cls, net: torch.nn.Module) -> torch.nn.Module:
        """The random weights an untrained extractor runs with."""
        return variance_preserving(net)

    @classmethod
    def from_weights(cls, store: WeightsStore, device: str | torch.device = "cpu") -> Self:
        """The extractor with its real weights; raises ``WeightsMissingError`` when they are absent."""
        path = store.resolve(cls.weights_name)
        net = cls.build()
        cls.load_into(net, load_state(path))
        return cls(net, store.sha256(cls.weights_name), str(path), device)

    @classmethod
    def random_init(cls, device: str | torch.device = "cpu") -> Self:
        """The same architecture with random weights (drawn from torch's generator)."""
        return cls(cls.randomise(cls.build()), RANDOM_INIT, RANDOM_INIT, device)

    @classmethod
    def load(cls, store: WeightsStore | None = None, *, allow_untrained: bool = False,
             device: str | torch.device = "cpu", seed: int = 0, inference_form: bool = True) -> Self:
        """Real weights; when they are missing and ``allow_untrained``, a random init seeded by ``seed``.

        ``inference_form=False`` keeps the network exactly as its reference package runs it (for
        reference-equivalence checks); the default runs it folded and channels-last.
        """
        try:
            extractor = cls.from_weights(store or WeightsStore(), device)
        except WeightsMissingError as exc:
            if not allow_untrained:
                raise
            warnings.warn(f"{exc}; using a seeded random-init {cls.name}: its values are NOT real metric values",
                          UntrainedExtractorWarning, stacklevel=2)
            with seeded(seed):
                extractor = cls.random_init(device)
        return extractor.to_inference_form() if inference_form else extractor


class BatchedExtractor(Extractor):
    """An extractor mapping a batch of inputs to one feature row each, run in chunks."""

    dim: ClassVar[int]

    @abstractmethod
    def preprocess(self, batch: np.ndarray) -> torch.Tensor:
        """A chunk of raw inputs as the network's input tensor on ``self.device``."""

    @torch.inference_mode()
    def features(self, inputs: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """``(n, dim)`` float32 features, computed ``batch_size`` inputs at a time (the result does not depend on it)."""
        out = [self.net(self.preprocess(inputs[part]).contiguous(memory_format=self.memory_format)).cpu()
               for part in batches(len(inputs), batch_size)]
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim), np.float32)


def fold_batchnorm(net: torch.nn.Module, conv_then_bn: dict[type[torch.nn.Module], tuple[str, str]]) -> int:
    """Fold, in place, each eval-mode BatchNorm that directly follows a convolution or linear layer.

    Two patterns are folded: neighbours in an ``nn.Sequential``, and a module of a type in
    ``conv_then_bn``, whose forward applies the named BatchNorm straight to the named layer's output
    (torchvision's ``BasicConv2d`` in pytorch-fid's Inception, I3D's ``Unit3D``). The BatchNorm
    becomes ``nn.Identity``. Returns how many were folded.
    """
    folded = 0
    for module in list(net.modules()):
        if isinstance(module, torch.nn.Sequential):
            names = list(module._modules)
            pairs = list(zip(names, names[1:]))
        else:
            pairs = [conv_then_bn[type(module)]] if type(module) in conv_then_bn else []
        for layer_name, bn_name in pairs:
            layer, bn = getattr(module, layer_name, None), getattr(module, bn_name, None)
            fuse = FUSE.get((type(layer), type(bn)))
            if fuse is not None and bn.track_running_stats and not bn.training:
                setattr(module, layer_name, fuse(layer, bn))
                setattr(module, bn_name, torch.nn.Identity())
                folded += 1
    return folded


FUSE = {
    (torch.nn.Conv2d, torch.nn.BatchNorm2d): fuse_conv_bn_eval,
    (torch.nn.Conv3d, torch.nn.BatchNorm3d): fuse_conv_bn_eval,
    (torch.nn.Linear, torch.nn.BatchNorm1d): fuse_linear_bn_eval,
}


def layout_name(memory_format: torch.memory_format, folded: int) -> str:
    """How a network runs, for provenance: its memory format, and whether BatchNorms were folded."""
    name = str(memory_format).removeprefix("torch.")
    return f"{name}; batchnorm folded" if folded else name


def variance_preserving(net: torch.nn.Module) -> torch.nn.Module:
    """He-normal convolution weights for a random init, so features still vary with the input.

    torch's default init shrinks the signal layer by layer; through Inception's or I3D's depth every
    input would give (nearly) the same features and a random-init smoke run would measure nothing.
    """
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net


def batches(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` items covering ``range(n)``."""
    if size < 1:
        raise ValueError(f"batch size must be positive, got {size}")
    return (slice(i, min(i + size, n)) for i in range(0, n, size))


def load_state(path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """A tensor state dict from a checkpoint file (no pickled code is run)."""
    return torch.load(path, map_location=device, weights_only=True)
