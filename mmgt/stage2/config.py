"""Typed stage-2 configuration (the pose-guided video diffusion backbone) and its YAML presets.

Presets: ``stage2_paper.yaml`` (SD-1.5 widths, 512 px, pretrained SD-1.5 / sd-vae-ft-mse /
sd-image-variations / AnimateDiff weights from the weights cache) and ``stage2_tiny.yaml`` (small
widths, 256 px, every part random-init and trained on the embedded split on CPU: the VAE first, by
:func:`mmgt.stage2.vae.train_vae`, then the image encoder with the UNets in the image step).

One :class:`SchedulerConfig` builds the DDIM scheduler of training *and* inference, and is saved
in every checkpoint, so the two can never disagree (the AnimateAnyone release trains with
scaled_linear betas and samples with linear ones).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mmgt.config import from_dict, load_preset
from mmgt.stage2.samplers import SAMPLERS



@dataclass(frozen=True)
class UNetConfig:
    """Both UNets (ReferenceNet and denoiser): SD-1.5's block pattern at configurable widths.

    Every level but the deepest has cross-attention blocks (SD-1.5: 320/640/1280 with attention, 1280 without).
    """

    block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280)
    layers_per_block: int = 2
    attention_head_dim: int = 8  # diffusers' (mis)name for the number of heads in SD-1.5 configs
    cross_attention_dim: int = 768
    norm_num_groups: int = 32
    latent_channels: int = 4

    def diffusers_kwargs(self) -> dict:
        n = len(self.block_out_channels)
        return dict(
            in_channels=self.latent_channels, out_channels=self.latent_channels,
            down_block_types=("CrossAttnDownBlock2D",) * (n - 1) + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n - 1),
            block_out_channels=tuple(self.block_out_channels), layers_per_block=self.layers_per_block,
            attention_head_dim=self.attention_head_dim, cross_attention_dim=self.cross_attention_dim,
            norm_num_groups=self.norm_num_groups,
        )


@dataclass(frozen=True)
class VAEConfig:
    """AutoencoderKL; ``len(block_out_channels) - 1`` stride-2 steps (SD: 4 levels -> 8x down)."""

    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)
    layers_per_block: int = 2
    latent_channels: int = 4
    norm_num_groups: int = 32
    mid_block_attention: bool = True  # the bottleneck self-attention (tiny: off, it dominates CPU time)
    scaling_factor: float = 0.18215  # tiny: 1 / std of the trained VAE's latents, set by train_vae

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


@dataclass(frozen=True)
class ImageEncoderConfig:
    """CLIP vision tower + projection: the reference's one cross-attention token."""

    image_size: int = 224
    patch_size: int = 14
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    projection_dim: int = 768  # = unet.cross_attention_dim


@dataclass(frozen=True)
class PoseGuiderConfig:
    """conv 3 -> c0, then per level two convs (the second stride 2), SiLU; zero-init conv to the UNet width."""

    channels: tuple[int, ...] = (16, 32, 96, 256)
    conditioning_channels: int = 3


@dataclass(frozen=True)
class MotionConfig:
    """AnimateDiff motion modules (diffusers ``MotionAdapter``); ``layers_per_block`` follows the UNet."""

    num_attention_heads: int = 8
    max_seq_length: int = 32
    norm_num_groups: int = 32
    transformer_layers_per_block: int = 1
    use_mid_block: bool = True


@dataclass(frozen=True)
class SchedulerConfig:
    """DDIM with v-prediction, zero terminal SNR and trailing timesteps: training and inference alike."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "scaled_linear"
    prediction_type: str = "v_prediction"
    rescale_betas_zero_snr: bool = True
    timestep_spacing: str = "trailing"
    clip_sample: bool = False
    set_alpha_to_one: bool = True
    steps_offset: int = 0


@dataclass(frozen=True)
class PretrainedConfig:
    """Weights-manifest names (mmgt.weights) of the initial weights; None: random init."""

    unet: str | None = "sd-1.5"  # its unet/ folder initialises both UNets
    vae: str | None = "sd-vae-ft-mse"
    image_encoder: str | None = "sd-image-variations"  # its image_encoder/ folder
    motion_adapter: str | None = "animatediff-motion-adapter"


@dataclass(frozen=True)
class TrainStepConfig:
    """One training step kind (image or video); ``frames`` = 1 for the image step."""

    steps: int = 30000
    batch_size: int = 4
    lr: float = 1e-5
    frames: int = 1
    checkpoint_every: int = 1000


@dataclass(frozen=True)
class VAETrainConfig:
    """The tiny preset's own VAE (mmgt.stage2.vae.train_vae); unused when ``pretrained.vae`` is set."""

    steps: int = 600
    batch_size: int = 8
    crop: int = 128  # random square crops (the VAE is fully convolutional; crops keep CPU steps short)
    lr: float = 1e-3
    kl_weight: float = 1e-6
    frames_per_clip: int = 16  # evenly spaced frames per clip kept for training and for the PSNR


@dataclass(frozen=True)
class TrainConfig:
    vae: VAETrainConfig = field(default_factory=VAETrainConfig)
    image: TrainStepConfig = field(default_factory=TrainStepConfig)
    video: TrainStepConfig = field(default_factory=lambda: TrainStepConfig(32500, 1, 1e-5, 12))
    min_ref_distance: int = 25  # reference and target frames at least this far apart (image step)
    noise_offset: float = 0.05
    snr_gamma: float = 5.0
    cond_drop_prob: float = 0.1  # zero CLIP token and no reference features
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    log_every: int = 10
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 keeps torch's default


@dataclass(frozen=True)
class InferenceConfig:
    sampler: str = "ddim"  # a name of mmgt.stage2.samplers.SAMPLERS, on the training scheduler's schedule
    steps: int = 30
    guidance: float = 3.5
    context_frames: int = 12
    context_overlap: int = 4
    window_batch: int = 4  # context windows denoised in one forward


@dataclass(frozen=True)
class Stage2Config:
    name: str = "paper"
    resolution: int = 512
    unet: UNetConfig = field(default_factory=UNetConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    pose_guider: PoseGuiderConfig = field(default_factory=PoseGuiderConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    pretrained: PretrainedConfig = field(default_factory=PretrainedConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)

    def __post_init__(self) -> None:
        steps = len(self.pose_guider.channels) - 1
        if 2 ** steps != self.vae.downsample:
            raise ValueError(f"pose_guider has {steps} stride-2 steps but the VAE downsamples {self.vae.downsample}x")
        if self.resolution % (self.vae.downsample * 2 ** (len(self.unet.block_out_channels) - 1)):
            raise ValueError(f"resolution {self.resolution} is not divisible by the VAE and UNet downsampling")
        if self.image_encoder.projection_dim != self.unet.cross_attention_dim:
            raise ValueError("image_encoder.projection_dim must equal unet.cross_attention_dim")
        if self.vae.latent_channels != self.unet.latent_channels:
            raise ValueError("vae.latent_channels must equal unet.latent_channels")
        if self.train.vae.crop > self.resolution:
            raise ValueError(f"train.vae.crop {self.train.vae.crop} exceeds the resolution {self.resolution}")
        if self.inference.sampler not in SAMPLERS:
            raise ValueError(f"inference.sampler {self.inference.sampler!r} is not one of {', '.join(SAMPLERS)}")
        if self.inference.context_overlap >= self.inference.context_frames:
            raise ValueError("inference.context_overlap must be smaller than inference.context_frames")

    def to_dict(self) -> dict:
        return asdict(self)


def load_config(preset: str, overrides: list[str] | tuple[str, ...] = ()) -> Stage2Config:
    """Load a preset (``tiny``, ``paper`` or a YAML path) with ``section.field=value`` overrides."""
    return load_preset(Stage2Config, "stage2_", preset, overrides, "stage-2")


def config_from_dict(data: dict) -> Stage2Config:
    """Rebuild a config stored in a checkpoint."""
    return from_dict(Stage2Config, data)
