"""Pseudo-labeling as entropy minimisation (Lee 2013; Grandvalet & Bengio 2005): the two
unlabelled losses and Lee's ramp for their weight, for notebook 12.

Lee's loss on a batch is ``CE(labelled) + alpha(t) * CE(unlabelled, argmax of the model's own
prediction)``; Grandvalet and Bengio's is ``CE(labelled) + lambda * H(prediction)``. Both are
smallest when the model is sure about every unlabelled point, which pushes the decision
boundary away from the points, into the regions where there are none.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def alpha_ramp(t: float, t1: float = 100, t2: float = 600, alpha_final: float = 3.0) -> float:
    """Lee 2013's weight of the unlabelled loss at epoch ``t``: 0 before ``t1``, rising in a
    straight line to ``alpha_final`` at ``t2``, then flat. The defaults are the paper's."""
    if not t2 > t1:
        raise ValueError(f"t2 must be after t1, not t1={t1}, t2={t2}")
    if t < t1:
        return 0.0
    if t < t2:
        return alpha_final * (t - t1) / (t2 - t1)
    return float(alpha_final)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """The entropy of each row of class probabilities, in nats: 0 for a one-hot row, log C for
    a uniform one."""
    return -(probs * probs.clamp_min(1e-12).log()).sum(dim=1)


def pseudo_label_loss(logits: torch.Tensor) -> torch.Tensor:
    """Lee's unlabelled loss: the cross-entropy of each prediction against its own argmax,
    taken as a fixed target (no gradient through the choice), averaged over the batch."""
    return F.cross_entropy(logits, logits.detach().argmax(dim=1))


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """Grandvalet and Bengio's unlabelled loss: the mean entropy of the predictions."""
    return entropy(torch.softmax(logits, dim=1)).mean()
