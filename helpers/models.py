"""make_model: a small VGG-style CNN that trains in well under a minute on two CPU cores."""
from __future__ import annotations

import torch
import torch.nn as nn


def _conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def make_model(num_classes: int = 2, width: int = 16, dropout: float = 0.2,
               seed: int | None = None) -> nn.Sequential:
    """Three stages of two 3x3 conv-BN-ReLU layers (width, 2x, 4x channels), each halving the
    image, then global max pooling, dropout and a linear layer that outputs logits.

    Works for any square image size of 8 pixels or more. The arguments are stored on the model
    (``model.arch``) so that a checkpoint can rebuild it. With ``seed`` the initial weights
    are reproducible, without touching the global random state.
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, not {num_classes}")
    if width < 1:
        raise ValueError(f"width must be a positive number of channels, not {width}")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), not {dropout}")
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        layers: list[nn.Module] = []
        c_in = 3
        for c_out in (width, 2 * width, 4 * width):
            layers += _conv_bn_relu(c_in, c_out) + _conv_bn_relu(c_out, c_out) + [nn.MaxPool2d(2)]
            c_in = c_out
        layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, num_classes)]
        model = nn.Sequential(*layers)
    model.arch = {"num_classes": num_classes, "width": width, "dropout": dropout}
    return model
