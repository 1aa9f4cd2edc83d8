"""Notebook 13: a shifted target domain made from the course's own images, and AdaBN.

The target domain is the unlabelled pool (and, for grading, the test images) seen through a
cheaper camera: grayscale, blurred, at half the resolution. A model trained on the colour
source images meets statistics its batch-norm layers have never seen. AdaBN (Li et al. 2016,
arXiv:1603.04779) keeps every learned weight and replaces each batch-norm layer's running mean
and variance with the target images' own.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..train import get_device, prepare

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma


def gaussian_kernel(sigma: float, radius: int = 2) -> torch.Tensor:
    """A 1-D Gaussian of ``2 * radius + 1`` taps that sums to 1."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, not {sigma}")
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    return kernel / kernel.sum()


def shift_domain(x: torch.Tensor, size: int = 16, sigma: float = 1.0) -> torch.Tensor:
    """uint8 images N x 3 x H x W -> the target domain, uint8, same shape: grayscale (the same
    value in the three channels), a separable Gaussian blur, then down to ``size`` pixels a side
    (mean of each block) and back up (bilinear). Deterministic: no random choice."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images N x 3 x H x W, not {tuple(x.shape)}")
    if not 1 <= size <= x.shape[-1]:
        raise ValueError(f"size must be between 1 and the image size {x.shape[-1]}, not {size}")
    weights = torch.tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
    gray = (x.float() * weights).sum(1, keepdim=True)
    kernel = gaussian_kernel(sigma)
    radius = len(kernel) // 2
    gray = F.pad(gray, (radius, radius, radius, radius), mode="replicate")
    gray = F.conv2d(F.conv2d(gray, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))
    low = F.interpolate(gray, size=size, mode="area")
    back = F.interpolate(low, size=x.shape[-1], mode="bilinear", align_corners=False)
    return back.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


# The batch size is part of AdaBN's result (the running variance averages the batches' own
# variances), so it is a fixed setting of the method, never the prediction batch.
ADABN_BATCH = 1000


@torch.no_grad()
def adapt_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int = ADABN_BATCH) -> nn.Module:
    """AdaBN: a copy of ``model`` whose batch-norm running statistics are the target images
    ``x``'s own, every weight unchanged; ``model`` is not modified. The statistics are the mean
    over batches of the batch statistics; the images are shuffled first (a fixed order), so that
    no batch holds one class only (the pool is stored cats first)."""
    adapted = copy.deepcopy(model).to(get_device())
    norms = [m for m in adapted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise ValueError("the model has no batch-norm layer to adapt")
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # None: a cumulative average over every batch, not an EMA
    adapted.train()  # batch-norm layers update their running statistics only in training mode
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    for xb in x[order].split(batch_size):
        adapted(prepare(xb, get_device()))
    for norm in norms:
        norm.momentum = 0.1  # PyTorch's default again, for any later training
    return adapted.eval()
