"""AnimateAnyone's PoseGuider and its injection after the denoiser's ``conv_in``.

The guider maps a rendered pose frame (3 x H x W, values in [0, 1]) to the latent grid at the
UNet's first width: conv 3 -> c0, then per level a conv and a stride-2 conv, SiLU between, and a
zero-initialised 3x3 conv out, so an untrained guider leaves the UNet unchanged. Its output is added
to ``conv_in``'s output by a forward hook (:class:`PoseInjection`): the UNet's code and state-dict
keys stay stock diffusers.
"""

from __future__ import annotations

from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor, nn


class PoseGuider(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, out_channels: int = 320, channels: tuple[int, ...] = (16, 32, 96, 256), conditioning_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(conditioning_channels, channels[0], 3, padding=1), nn.SiLU()]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(c_in, c_in, 3, padding=1), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1, stride=2), nn.SiLU()]
        self.blocks = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(channels[-1], out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, pose: Tensor) -> Tensor:
        """``(N, 3, H, W)`` pose images in [0, 1] -> ``(N, out_channels, H / 2^L, W / 2^L)``."""
        return self.conv_out(self.blocks(pose))


class PoseInjection:
    """A forward hook on ``unet.conv_in`` adding the current pose features (rows in the UNet's frame order)."""

    def __init__(self, unet: nn.Module):
        self.features: Tensor | None = None
        self.handle = unet.conv_in.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        if self.features is None:
            return output
        if self.features.shape != output.shape:
            raise ValueError(f"pose features {tuple(self.features.shape)} do not match conv_in's {tuple(output.shape)}")
        return output + self.features.to(output.dtype)

    def remove(self) -> None:
        self.handle.remove()


__all__ = ["PoseGuider", "PoseInjection"]
