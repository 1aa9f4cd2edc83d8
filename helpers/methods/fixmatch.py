"""FixMatch (Sohn et al. 2020, arXiv 2001.07685): consistency between a weak and a strong view.

For a batch of unlabelled images: predict the weakly augmented view (flip + crop), keep the
argmax where the confidence passes the threshold, and train the strongly augmented view
(RandAugment + cutout) to predict it. The labelled batch is trained as usual by
``helpers.train.fit``; the unlabelled loss plugs into its ``extra_loss`` hook and an
exponential moving average (EMA) of the weights into ``after_step``.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import strong_augment, weak_augment
from ..train import _prepare, fit, get_device
from .thresholds import FixedThreshold, select


def fixmatch_loss(logits_weak: torch.Tensor, logits_strong: torch.Tensor,
                  thresholds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The unlabelled loss: cross-entropy of the strong view against the weak view's argmax,
    counted only where the weak view's confidence is above its class's threshold, averaged
    over the whole unlabelled batch. Returns ``(loss, mask, pseudo_labels)``."""
    probs = logits_weak.detach().softmax(1)
    max_probs, pseudo_labels = probs.max(1)
    mask = select(max_probs, pseudo_labels, thresholds)
    losses = F.cross_entropy(logits_strong, pseudo_labels, reduction="none")
    return (losses * mask.float()).mean(), mask, pseudo_labels


class EMA:
    """An exponential moving average of a model's weights: ``avg = decay * avg + (1 - decay) * w``
    after every step (BatchNorm's running statistics are copied). Evaluate ``ema.model``."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None) -> None:
        for avg, w in zip(self.model.parameters(), model.parameters()):
            avg.mul_(self.decay).add_(w.detach(), alpha=1 - self.decay)
        for avg, b in zip(self.model.buffers(), model.buffers()):
            avg.copy_(b)


class UnlabeledConsistency:
    """The ``extra_loss`` FixMatch adds to each labelled step: draws ``batch_size`` unlabelled
    images, and records what it kept (``used``: how many per step; ``ever_used``: which images
    have contributed at least once; ``thresholds``: the rule's thresholds per step)."""

    def __init__(self, x_unlabeled: torch.Tensor, rule=None, batch_size: int = 256,
                 weight: float = 1.0, y_hidden: torch.Tensor | None = None, num_classes: int = 2):
        self.x = x_unlabeled
        self.rule = rule or FixedThreshold(num_classes, 0.95)
        self.batch_size, self.weight = batch_size, weight
        self.y_hidden = y_hidden  # only to grade the pseudo-labels used, never to train
        self.used: list[int] = []
        self.used_correct: list[int] = []
        self.thresholds: list[list[float]] = []
        self.ever_used = torch.zeros(len(x_unlabeled), dtype=torch.bool)

    def __call__(self, model: nn.Module, step: int, total_steps: int) -> torch.Tensor:
        device = get_device()
        index = torch.randint(0, len(self.x), (self.batch_size,))
        xb = self.x[index].to(device)
        with torch.no_grad():
            logits_weak = model(_prepare(weak_augment(xb), device)).float()
        self.rule.update(logits_weak.softmax(1), index)
        thresholds = self.rule.thresholds()
        logits_strong = model(_prepare(strong_augment(xb), device)).float()
        loss, mask, pseudo_labels = fixmatch_loss(logits_weak, logits_strong, thresholds)
        mask = mask.cpu()
        self.used.append(int(mask.sum()))
        if self.y_hidden is not None:
            self.used_correct.append(int((pseudo_labels.cpu()[mask] == self.y_hidden[index][mask]).sum()))
        self.thresholds.append(thresholds.tolist())
        self.ever_used[index[mask]] = True
        return self.weight * loss


def train_fixmatch(model: nn.Module, x_labeled: torch.Tensor, y_labeled: torch.Tensor,
                   x_unlabeled: torch.Tensor, *, epochs: int = 20, rule=None, mu: int = 2,
                   batch_size: int = 64, lr: float = 0.03, ema_decay: float = 0.99,
                   y_hidden: torch.Tensor | None = None, precision: str = "fp32",
                   seed: int | None = None, progress: bool = True) -> tuple[nn.Module, UnlabeledConsistency, dict]:
    """Keep training ``model`` with FixMatch for ``epochs`` passes over the labelled images
    (``batch_size`` labelled + ``mu * batch_size`` unlabelled images a step).

    Returns ``(ema_model, consistency, history)``: the EMA of the weights (the model to
    evaluate), the record of which pseudo-labels were used, and ``fit``'s history.
    """
    num_classes = int(y_labeled.max()) + 1
    consistency = UnlabeledConsistency(x_unlabeled, rule, mu * batch_size, y_hidden=y_hidden,
                                       num_classes=num_classes)
    ema = EMA(model, ema_decay)
    history = fit(model, x_labeled, y_labeled, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                  extra_loss=consistency, after_step=ema.update, precision=precision, progress=progress,
                  desc="FixMatch")
    return ema.model, consistency, history
