"""Threshold rules: which pseudo-labels count, fixed or moving with training.

A rule gives one threshold per class (``thresholds()``) and may learn from each batch of
weak-view probabilities (``update``). A pseudo-label counts when its confidence is strictly
above its class's threshold (``select``), as in ``helpers.pseudo.select_confident``.
"""
from __future__ import annotations

import torch


def select(max_probs: torch.Tensor, pseudo_labels: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Boolean mask: ``max_probs > thresholds[pseudo_labels]`` (one threshold per class)."""
    return max_probs > thresholds.to(max_probs.device)[pseudo_labels]


def percentile_threshold(max_probs: torch.Tensor, keep_fraction: float) -> float:
    """The confidence below which ``1 - keep_fraction`` of the pool falls (Curriculum Labeling,
    arXiv 2001.06001): keeping ``max_probs > threshold`` keeps the top ``keep_fraction``.
    ``keep_fraction`` 1 gives a threshold of -1, so everything is kept."""
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], not {keep_fraction}")
    if keep_fraction == 1:
        return -1.0
    n_drop = round((1 - keep_fraction) * len(max_probs))
    if n_drop == 0:
        return -1.0
    return max_probs.sort().values[n_drop - 1].item()


class FixedThreshold:
    """The same threshold for every class, all the time (FixMatch uses 0.95)."""

    def __init__(self, num_classes: int, threshold: float = 0.95):
        self.num_classes, self.threshold = num_classes, threshold

    def thresholds(self) -> torch.Tensor:
        return torch.full((self.num_classes,), float(self.threshold))

    def update(self, probs: torch.Tensor, index: torch.Tensor) -> None:
        pass


class FlexMatchThreshold:
    """Per-class thresholds scaled by how well each class is learnt (FlexMatch, arXiv 2110.08263).

    ``sigma[c]`` counts the unlabelled images whose latest prediction is class ``c`` with
    confidence above ``tau``. With the warm-up, ``beta[c] = sigma[c] / max(max sigma, unused)``
    where ``unused`` counts images never yet predicted confidently; the threshold is
    ``tau * beta / (2 - beta)`` (a convex mapping: a low bar for classes learnt least).
    """

    def __init__(self, num_classes: int, n_unlabeled: int, tau: float = 0.95, warmup: bool = True):
        self.num_classes, self.tau, self.warmup = num_classes, tau, warmup
        self.latest = torch.full((n_unlabeled,), -1, dtype=torch.long)  # -1: never confident yet

    def thresholds(self) -> torch.Tensor:
        counts = torch.bincount(self.latest + 1, minlength=self.num_classes + 1).float()
        never, sigma = counts[0], counts[1:]
        denominator = torch.maximum(sigma.max(), never) if self.warmup else sigma.max()
        beta = sigma / denominator.clamp_min(1)
        return self.tau * beta / (2 - beta)

    def update(self, probs: torch.Tensor, index: torch.Tensor) -> None:
        max_probs, labels = probs.detach().cpu().max(1)
        confident = max_probs > self.tau
        self.latest[index.cpu()[confident]] = labels[confident]


class FreeMatchThreshold:
    """A self-adaptive global threshold, scaled per class (FreeMatch, arXiv 2205.07246).

    Global: ``tau`` is an exponential moving average (EMA) of the mean top confidence.
    Local: ``p`` is an EMA of the mean probability vector. Class ``c``'s threshold is
    ``tau * p[c] / max(p)``. Both start at ``1 / num_classes`` and are updated each batch.
    """

    def __init__(self, num_classes: int, momentum: float = 0.999):
        self.momentum = momentum
        self.tau = torch.tensor(1.0 / num_classes)
        self.p = torch.full((num_classes,), 1.0 / num_classes)

    def thresholds(self) -> torch.Tensor:
        return self.tau * self.p / self.p.max()

    def update(self, probs: torch.Tensor, index: torch.Tensor) -> None:
        probs = probs.detach().float().cpu()
        m = self.momentum
        self.tau = m * self.tau + (1 - m) * probs.max(1).values.mean()
        self.p = m * self.p + (1 - m) * probs.mean(0)
