"""FixMatch (Sohn et al. 2020, arXiv 2001.07685): consistency between a weak and a strong view.

For a batch of unlabelled images: predict the weakly augmented view (flip + crop), keep the
argmax where the confidence passes the threshold, and train the strongly augmented view
(RandAugment + cutout) to predict it. ``FixMatchStep`` is the whole step (labelled loss +
unlabelled loss, then the EMA update); ``helpers.train.fit`` only loops over it.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..augment import strong_augment, weak_augment
from ..train import TrainStep, fit, prepare
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
    def update(self, model: nn.Module) -> None:
        for avg, w in zip(self.model.parameters(), model.parameters()):
            avg.mul_(self.decay).add_(w.detach(), alpha=1 - self.decay)
        for avg, b in zip(self.model.buffers(), model.buffers()):
            avg.copy_(b)


class FixMatchStep(TrainStep):
    """FixMatch's training step, all in one place: ``sup_loss + weight * unsup_loss``.

    Per step: the labelled batch, weakly augmented, against its labels; ``batch_size`` unlabelled
    images drawn at random, their weak view predicted without gradients (the model in training
    mode, as in the paper's single batched forward: dropout and BatchNorm batch statistics on),
    the rule's per-class thresholds updated and applied, and the strong view trained towards the
    weak view's confident argmax. After each optimizer step the EMA of the weights is updated.

    It records what it kept: ``used`` (per step), ``used_correct`` (graded against
    ``y_unlabeled_hidden``, when given - never trained on), ``ever_used`` (which images
    contributed at least once) and ``thresholds`` (the rule's, per step).
    """

    def __init__(self, x_unlabeled: torch.Tensor, rule=None, batch_size: int = 128, weight: float = 1.0,
                 ema: EMA | None = None, y_unlabeled_hidden: torch.Tensor | None = None, num_classes: int = 2):
        self.x = x_unlabeled
        self.rule = rule or FixedThreshold(num_classes, 0.95)
        self.batch_size, self.weight, self.ema = batch_size, weight, ema
        self.y_unlabeled_hidden = y_unlabeled_hidden
        self.used: list[int] = []
        self.used_correct: list[int] = []
        self.thresholds: list[list[float]] = []
        self.ever_used = torch.zeros(len(x_unlabeled), dtype=torch.bool)

    def __call__(self, model, xb, yb):
        device = yb.device
        logits = model(prepare(weak_augment(xb), device)).float()
        sup_loss = F.cross_entropy(logits, yb)
        index = torch.randint(0, len(self.x), (self.batch_size,))
        xu = self.x[index].to(device)
        with torch.no_grad():
            logits_weak = model(prepare(weak_augment(xu), device)).float()
        self.rule.update(logits_weak.softmax(1), index)
        thresholds = self.rule.thresholds()
        logits_strong = model(prepare(strong_augment(xu), device)).float()
        unsup_loss, mask, pseudo_labels = fixmatch_loss(logits_weak, logits_strong, thresholds)
        self._record(index, mask.cpu(), pseudo_labels.cpu(), thresholds)
        return sup_loss + self.weight * unsup_loss, int((logits.argmax(1) == yb).sum())

    def after_update(self, model):
        if self.ema is not None:
            self.ema.update(model)

    def _record(self, index, mask, pseudo_labels, thresholds) -> None:
        self.used.append(int(mask.sum()))
        if self.y_unlabeled_hidden is not None:
            self.used_correct.append(int((pseudo_labels[mask] == self.y_unlabeled_hidden[index][mask]).sum()))
        self.thresholds.append(thresholds.tolist())
        self.ever_used[index[mask]] = True


# The paper's settings, one keyword each, as FixMatchRun / SoftLabelsRun hold them.
def train_fixmatch(model: nn.Module, x_labeled: torch.Tensor, y_labeled: torch.Tensor,
                   x_unlabeled: torch.Tensor, *, epochs: int = 20, rule=None, mu: int = 2,
                   batch_size: int = 64, lr: float = 0.03, ema_decay: float = 0.99, weight: float = 1.0,
                   y_unlabeled_hidden: torch.Tensor | None = None, precision: str = "fp32",
                   seed: int | None = None, progress: bool = True) -> tuple[nn.Module, FixMatchStep, dict]:
    """Keep training ``model`` with FixMatch for ``epochs`` passes over the labelled images
    (``batch_size`` labelled + ``mu * batch_size`` unlabelled images a step, the unlabelled
    loss scaled by ``weight``).

    Returns ``(ema_model, step, history)``: the EMA of the weights (the model to evaluate),
    the step with its record of which pseudo-labels were used, and ``fit``'s history.
    """
    ema = EMA(model, ema_decay)
    step = FixMatchStep(x_unlabeled, rule, mu * batch_size, weight, ema=ema, y_unlabeled_hidden=y_unlabeled_hidden,
                        num_classes=int(y_labeled.max()) + 1)
    history = fit(model, x_labeled, y_labeled, epochs=epochs, batch_size=batch_size, lr=lr, step=step,
                  precision=precision, seed=seed, progress=progress, desc="FixMatch")
    return ema.model, step, history
