"""Image quality metrics: PSNR, MS-SSIM, EffNet-Lite0 feature distance and patch Frechet distance."""

from gencodec.metrics.backbone import (
    TAP_CHANNELS,
    TAP_STRIDES,
    WEIGHTS_SHA256,
    EfficientNetLite0Features,
    WeightsError,
    default_backbone,
)
from gencodec.metrics.deep_features import DeepFeatureLoss, deep_feature_distance
from gencodec.metrics.frechet import (
    frechet_distance,
    patch_features,
    patch_frechet_distance,
)
from gencodec.metrics.ms_ssim import ms_ssim, ms_ssim_tensor
from gencodec.metrics.psnr import psnr

__all__ = [
    "TAP_CHANNELS",
    "TAP_STRIDES",
    "WEIGHTS_SHA256",
    "DeepFeatureLoss",
    "EfficientNetLite0Features",
    "WeightsError",
    "deep_feature_distance",
    "default_backbone",
    "frechet_distance",
    "ms_ssim",
    "ms_ssim_tensor",
    "patch_features",
    "patch_frechet_distance",
    "psnr",
]
