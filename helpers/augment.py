"""Batched augmentation and normalisation on whole tensors: no per-image Python.

Each function takes a uint8 or float batch N x C x H x W and draws one random choice per
image with tensor operations, so a batch of 512 costs about as much as one image would in a
Python loop.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Channel statistics of CIFAR-10's training images, on the 0..255 scale.
MEAN = (125.3, 123.0, 113.9)
STD = (63.0, 62.1, 66.7)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 (or 0..255 float) images -> float32, zero mean and unit variance per channel."""
    mean = torch.tensor(MEAN, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, -1, 1, 1)
    return (x.float() - mean) / std


def _rand(n: int, generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device)


def random_crop(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pad each image by reflection, then cut a random window of the original size."""
    n, c, h, w = x.shape
    padded = F.pad(x.float(), (padding,) * 4, mode="reflect").to(x.dtype)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=x.device)
    rows = (torch.arange(h, device=x.device) + dy[:, None])[:, None, :, None]
    cols = (torch.arange(w, device=x.device) + dx[:, None])[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror a random half of the images left to right."""
    flip = _rand(len(x), generator, x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def weak_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The standard CIFAR augmentation: reflect-padded random crop and horizontal flip."""
    return random_flip(random_crop(x, 4, generator), generator)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Blank one random square of side ``size`` per image (it may hang over the border)."""
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n,), generator=generator, device=x.device)[:, None, None]
    cx = torch.randint(0, w, (n,), generator=generator, device=x.device)[:, None, None]
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = ((ys - cy).abs() <= size // 2) & ((xs - cx).abs() <= size // 2)
    fill = torch.tensor(MEAN, device=x.device, dtype=torch.float32).view(1, -1, 1, 1)
    return torch.where(inside[:, None], fill.to(x.dtype), x)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (b + factor.view(-1, 1, 1, 1) * (a - b)).clamp(0, 255)


def _gray(x: torch.Tensor) -> torch.Tensor:
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def strong_augment(x: torch.Tensor, n_ops: int = 2, magnitude: float = 0.5,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A batched RandAugment-style policy, then cutout (after FixMatch, arXiv 2001.07685).

    Each image gets ``n_ops`` operations picked at random from colour changes (brightness,
    contrast, saturation, solarize, posterize, autocontrast) and geometric ones (rotate, shear,
    translate), each with a random strength up to ``magnitude``; then a random flip and crop,
    and a cutout of half the image side. Returns float images on the 0..255 scale.
    """
    x = weak_augment(x, generator).float()
    n, _, h, w = x.shape
    dev = x.device
    n_kinds = 9
    picks = torch.stack([torch.randint(0, n_kinds, (n,), generator=generator, device=dev)
                         for _ in range(n_ops)], 1)
    for op in range(n_kinds):
        chosen = (picks == op).any(1)
        if not chosen.any():
            continue
        idx = chosen.nonzero().squeeze(1)
        part = x[idx]
        m = magnitude * _rand(len(idx), generator, dev)            # strength in [0, magnitude)
        sign = torch.where(_rand(len(idx), generator, dev) < 0.5, -1.0, 1.0)
        if op == 0:    # brightness
            part = _blend(part, torch.zeros_like(part), 1 + sign * 0.9 * m)
        elif op == 1:  # contrast
            mean = _gray(part).mean((1, 2, 3), keepdim=True)
            part = _blend(part, mean.expand_as(part), 1 + sign * 0.9 * m)
        elif op == 2:  # saturation
            part = _blend(part, _gray(part).expand_as(part), 1 + sign * 0.9 * m)
        elif op == 3:  # solarize: invert pixels above a threshold
            thr = (255 * (1 - m)).view(-1, 1, 1, 1)
            part = torch.where(part >= thr, 255 - part, part)
        elif op == 4:  # posterize: keep fewer bits
            bits = (8 - (4 * m).round()).view(-1, 1, 1, 1)
            step = 2 ** (8 - bits)
            part = torch.div(part, step, rounding_mode="floor") * step
        elif op == 5:  # autocontrast: stretch each channel to 0..255
            lo = part.amin((2, 3), keepdim=True)
            hi = part.amax((2, 3), keepdim=True)
            part = (part - lo) / (hi - lo).clamp_min(1) * 255
        else:          # geometric: rotate, shear or translate, by an affine warp
            theta = torch.zeros(len(idx), 2, 3, device=dev)
            theta[:, 0, 0] = theta[:, 1, 1] = 1
            if op == 6:
                angle = sign * m * math.radians(30)
                theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
                theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
            elif op == 7:
                theta[:, 0, 1] = sign * m * 0.3
            else:
                theta[:, 0, 2] = sign * m * 0.6  # up to 30 % of the width (grid spans -1..1)
            part = _affine(part, theta)
        x[idx] = part
    return cutout(x.clamp(0, 255), h // 2, generator)
