"""Soft pseudo-labels, mixup and a minimum of labelled images per batch (Arazo et al. 2019,
arXiv 1908.02983): three guards against a network learning its own mistakes.

``SoftMixupStep`` is the training step (soft targets, mixup, re-made targets after each
epoch); ``min_labeled_batches`` is the batch order; ``helpers.train.fit`` only loops.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import weak_augment
from ..train import TrainStep, fit, predict_proba, prepare, soft_cross_entropy


def sharpen(probs: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Raise each probability to ``1 / temperature`` and renormalise each row.

    ``temperature`` 1 leaves the vector as it is; below 1 it moves towards the argmax
    (one-hot as it nears 0); above 1 towards uniform.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    powered = probs.clamp_min(1e-12) ** (1.0 / temperature)
    return powered / powered.sum(dim=1, keepdim=True)


def align_distribution(probs: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Rescale each class's probabilities so that their mean over the pool matches ``prior``,
    then renormalise each row (distribution alignment, ReMixMatch, arXiv 1911.09785).

    A model that drifts towards one class on its own pseudo-labels is pulled back to the class
    balance of the labelled images; Arazo et al. use a regulariser with the same aim.
    """
    aligned = probs * (prior.to(probs.device) / probs.mean(0).clamp_min(1e-12))
    return aligned / aligned.sum(dim=1, keepdim=True)


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float = 1.0,
          lam: torch.Tensor | float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each image and its soft target with a random partner from the same batch.

    ``lam`` (one per image) is drawn from Beta(alpha, alpha) unless given. Returns float
    images on the 0..255 scale and the mixed targets: ``lam * own + (1 - lam) * partner``.
    Mixing before normalisation equals mixing after it, as normalisation is affine.
    """
    n = len(x)
    if lam is None:
        lam = torch.distributions.Beta(alpha, alpha).sample((n,)).to(x.device)
    lam = torch.as_tensor(lam, dtype=torch.float32, device=x.device).expand(n)
    partner = torch.randperm(n, device=x.device)
    x_mix = lam.view(-1, 1, 1, 1) * x.float() + (1 - lam.view(-1, 1, 1, 1)) * x[partner].float()
    y_mix = lam.view(-1, 1) * y + (1 - lam.view(-1, 1)) * y[partner]
    return x_mix, y_mix


def min_labeled_batches(n_labeled: int, n_unlabeled: int, batch_size: int = 128,
                        min_labeled: int = 16) -> list[torch.Tensor]:
    """One epoch's batches over indices ``0..n_labeled-1`` (labelled) followed by
    ``n_labeled..n_labeled+n_unlabeled-1`` (unlabelled): every batch holds ``min_labeled``
    labelled images (drawn again from the start once all have been used), the rest unlabelled.

    Each unlabelled image appears once per epoch. This keeps true labels in every step, so
    the model cannot drift away from them while it learns from its own pseudo-labels.
    """
    if not 0 < min_labeled < batch_size:
        raise ValueError(f"min_labeled must be between 1 and batch_size - 1 ({batch_size - 1}), not {min_labeled}")
    if n_labeled < 1 or n_unlabeled < 1:
        raise ValueError("need at least one labelled and one unlabelled image")
    per_batch = batch_size - min_labeled
    n_batches = math.ceil(n_unlabeled / per_batch)
    unlabeled = torch.randperm(n_unlabeled) + n_labeled
    n_draws = math.ceil(n_batches * min_labeled / n_labeled)
    labeled = torch.cat([torch.randperm(n_labeled) for _ in range(n_draws)])
    return [torch.cat([labeled[b * min_labeled:(b + 1) * min_labeled], unlabeled[b * per_batch:(b + 1) * per_batch]])
            for b in range(n_batches)]


def soft_pseudo_labels(model: nn.Module, x_unlabeled: torch.Tensor, temperature: float = 1.0,
                       prior: torch.Tensor | None = None) -> torch.Tensor:
    """The model's whole probability vector for each unlabelled image: aligned to ``prior``
    (when given), then sharpened."""
    probs = predict_proba(model, x_unlabeled, tta=False)
    if prior is not None:
        probs = align_distribution(probs, prior)
    return sharpen(probs, temperature)


class SoftMixupStep(TrainStep):
    """The soft-label step: the batch arrives as indices into ``targets`` (one-hot rows for
    labelled images, soft pseudo-labels for unlabelled ones); augmentation (weak), mixup of images
    and targets (``alpha`` 0: none), cross-entropy against the (mixed) probability vectors.
    After each epoch the unlabelled rows are re-made from the model's own predictions
    (``relabel``), and ``changes`` records how far they moved."""

    def __init__(self, x: torch.Tensor, targets: torch.Tensor, n_labeled: int, alpha: float = 1.0,
                 temperature: float = 1.0, prior: torch.Tensor | None = None, relabel: bool = True,
                 augment=weak_augment):
        self.x, self.targets, self.n_labeled, self.augment = x, targets, n_labeled, augment
        self.alpha, self.temperature, self.prior, self.relabel = alpha, temperature, prior, relabel
        self.changes: list[float] = []

    def __call__(self, model, xb, index):
        yb = self.targets[index.cpu()].to(index.device)
        xb = self.augment(xb)
        if self.alpha > 0:
            xb, yb = mixup(xb, yb, self.alpha)
        logits = model(prepare(xb, index.device)).float()
        return soft_cross_entropy(logits, yb).mean(), int((logits.argmax(1) == yb.argmax(1)).sum())

    def end_epoch(self, model, epoch):
        if not self.relabel:
            return
        new_soft = soft_pseudo_labels(model, self.x[self.n_labeled:], self.temperature, self.prior)
        self.changes.append((new_soft - self.targets[self.n_labeled:]).abs().sum(1).mean().item() / 2)
        self.targets = torch.cat([self.targets[:self.n_labeled], new_soft])
        model.train()


# The paper's settings, one keyword each, as FixMatchRun / SoftLabelsRun hold them.
def train_soft_mixup(model: nn.Module, x_labeled: torch.Tensor, y_labeled: torch.Tensor,
                     x_unlabeled: torch.Tensor, *, epochs: int = 10, alpha: float = 1.0,
                     min_labeled: int = 16, temperature: float = 1.0, align: bool = True,
                     relabel: bool = True, teacher: nn.Module | None = None,
                     batch_size: int = 128, lr: float = 0.05, precision: str = "fp32",
                     seed: int | None = None, progress: bool = True) -> dict[str, list[float]]:
    """Keep training ``model`` on labelled + unlabelled images with soft pseudo-labels.

    Targets: one-hot for labelled images, the model's probabilities for unlabelled ones
    (aligned to the labelled class balance when ``align``, then sharpened), recomputed after
    every epoch (unless ``relabel`` is False: then they stay as the ``teacher`` - by default
    the model itself - gave them at the start). Every batch has ``min_labeled`` labelled images
    and is mixed with mixup (``alpha`` 0: no mixup). Returns ``fit``'s history plus
    ``soft_label_changes`` (mean absolute change of the unlabelled targets per epoch).
    """
    num_classes = int(y_labeled.max()) + 1
    n_lab, n_unl = len(x_labeled), len(x_unlabeled)
    x = torch.cat([x_labeled, x_unlabeled])
    prior = torch.bincount(y_labeled, minlength=num_classes).float() / n_lab if align else None
    targets = torch.cat([F.one_hot(y_labeled, num_classes).float(),
                         soft_pseudo_labels(teacher or model, x_unlabeled, temperature, prior)])
    step = SoftMixupStep(x, targets, n_lab, alpha, temperature, prior, relabel)
    history = fit(model, x, torch.arange(len(x)), epochs=epochs, batch_size=batch_size, lr=lr, step=step,
                  batches=lambda: min_labeled_batches(n_lab, n_unl, batch_size, min_labeled),
                  precision=precision, seed=seed, progress=progress, desc="soft labels + mixup")
    history["soft_label_changes"] = step.changes
    return history
