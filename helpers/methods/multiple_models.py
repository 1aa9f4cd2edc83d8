"""Several models that label for each other (co-training, Blum & Mitchell 1998; tri-training,
Zhou & Li 2005): an ensemble teacher, agreement filtering, and each model taught by the others."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..train import predict_proba


def ensemble_proba(models: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The ensemble teacher: the mean of the models' probabilities (N x C)."""
    return torch.stack([predict_proba(m, x) for m in models]).mean(0)


def agree(probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Boolean mask: every model gives the same argmax."""
    labels = torch.stack([p.argmax(1) for p in probs])
    return (labels == labels[0]).all(0)


def labels_from_others(probs: Sequence[torch.Tensor], i: int,
                       threshold: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Tri-training's rule for model ``i``: the pseudo-labels where all the *other* models agree
    and their mean confidence in that label is above ``threshold``.
    Returns ``(mask, pseudo_labels)``."""
    others = [p for j, p in enumerate(probs) if j != i]
    if not others:
        raise ValueError("labels_from_others needs at least two models")
    mean = torch.stack(others).mean(0)
    max_probs, pseudo_labels = mean.max(1)
    return agree(others) & (max_probs > threshold), pseudo_labels
