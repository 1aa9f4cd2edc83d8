"""The seed's method: softmax pseudo-labels, a confidence threshold, retraining in rounds."""
from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn as nn

from . import config
from .models import make_model
from .train import evaluate, fit, predict_proba

# A round's optimizer steps, in baseline runs: retraining on a bigger set needs more steps,
# not the same steps spread thinner. Quick mode (CI, a first pass) gives a round half a run.
ROUND_BUDGET = config.pick(2.0, 0.5)


def pseudo_label(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities (N x C) -> (max_probs, pseudo_labels): the confidence and the argmax."""
    if probs.ndim != 2:
        raise ValueError(f"probs must be N x C probabilities, got shape {tuple(probs.shape)}")
    max_probs, pseudo_labels = probs.max(dim=1)
    return max_probs, pseudo_labels


def select_confident(max_probs: torch.Tensor, threshold: float) -> torch.Tensor:
    """Boolean mask of the pseudo-labels to keep: strictly ``max_probs > threshold``."""
    if not isinstance(threshold, (int, float)) or math.isnan(threshold) or not 0 <= threshold < 1:
        raise ValueError(f"threshold must be a number in [0, 1) (e.g. 0.9), not {threshold!r}: "
                         "a probability can never exceed 1, so nothing would be selected")
    return max_probs > threshold


@dataclass
class RoundRecord:
    """What one round did. Round 0 is the supervised baseline."""

    round: int
    n_train: int                       # labelled + pseudo-labelled images trained on
    n_selected: int                    # pseudo-labels that passed the threshold
    selected_per_class: list[int]
    pseudo_label_accuracy: float | None  # against the hidden truth; None when not known
    test_accuracy: float | None
    seconds: float


@dataclass
class SelfTrainResult:
    records: list[RoundRecord]
    model: nn.Module
    threshold: float
    # Per round r >= 1: the probabilities the previous model gave the unlabelled pool, and the mask.
    probs: list[torch.Tensor] = field(default_factory=list)
    masks: list[torch.Tensor] = field(default_factory=list)

    @property
    def baseline(self) -> RoundRecord:
        return self.records[0]

    def to_dict(self) -> dict:
        """The per-round records and the threshold, ready for JSON."""
        return {"threshold": self.threshold, "records": [asdict(r) for r in self.records]}


def _accuracy(pred: torch.Tensor, truth: torch.Tensor | None) -> float | None:
    if truth is None or len(pred) == 0:
        return None
    return (pred == truth).float().mean().item()


def self_train(x_labeled: torch.Tensor, y_labeled: torch.Tensor, x_unlabeled: torch.Tensor, *,
               threshold: float = 0.9, rounds: int = 3, epochs: int | None = None,
               round_epochs: int | None = None, round_budget: float | None = None, width: int = 16,
               from_scratch: bool = True,
               x_test: torch.Tensor | None = None, y_test: torch.Tensor | None = None,
               y_unlabeled_true: torch.Tensor | None = None, baseline_model: nn.Module | None = None,
               student_augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
               selection: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
               precision: str = "fp32", seed: int = config.SEED, progress: bool = True,
               log: Callable[[str], None] | None = print) -> SelfTrainResult:
    """Baseline, then ``rounds`` of: predict the unlabelled pool, keep ``max_probs > threshold``,
    retrain on labelled + kept pseudo-labelled images.

    The whole pool is pseudo-labelled afresh each round, so a label may change. Each round
    trains a fresh model (``from_scratch``) or keeps training the last one, for ``round_epochs``
    epochs or, by default, ``round_budget`` times the baseline's number of optimizer steps
    (``ROUND_BUDGET``: 2, or 0.5 in quick mode)
    (a bigger training set needs more steps to be learnt, not just the same steps spread thinner).
    ``selection(max_probs, round) -> mask`` replaces the fixed threshold when given (e.g. a
    percentile that loosens each round, as in Curriculum Labeling).
    ``y_unlabeled_true`` is used only to grade the pseudo-labels, never to train.
    ``precision`` is ``fit``'s (``"bf16"``: bfloat16 autocast).
    Stops early, with a warning, when no pseudo-label passes the threshold.
    """
    select_confident(torch.zeros(0), threshold)  # validate before any training
    if rounds < 0:
        raise ValueError(f"rounds must be 0 or more, not {rounds}")
    epochs = epochs if epochs is not None else config.pick(40, 20)
    round_budget = round_budget if round_budget is not None else ROUND_BUDGET
    num_classes = int(y_labeled.max()) + 1 if len(y_labeled) else 2
    say = log or (lambda message: None)

    def test_acc(model):
        return evaluate(model, x_test, y_test) if x_test is not None else None

    start = time.perf_counter()
    if baseline_model is None:
        model = make_model(num_classes, width, seed=seed)
        fit(model, x_labeled, y_labeled, epochs=epochs, seed=seed, precision=precision, progress=progress,
            desc="baseline")
    else:
        model = baseline_model
    records = [RoundRecord(0, len(x_labeled), 0, [0] * num_classes, None, test_acc(model),
                           time.perf_counter() - start)]
    say(f"round 0 (baseline): {len(x_labeled)} labelled images, test accuracy "
        f"{records[0].test_accuracy if records[0].test_accuracy is not None else float('nan'):.4f}")
    result = SelfTrainResult(records, model, threshold)

    for r in range(1, rounds + 1):
        start = time.perf_counter()
        probs = predict_proba(model, x_unlabeled)
        max_probs, pseudo_labels = pseudo_label(probs)
        mask = select_confident(max_probs, threshold) if selection is None else selection(max_probs, r)
        n_selected = int(mask.sum())
        if n_selected == 0:
            warnings.warn(f"round {r}: no pseudo-label has confidence above {threshold}; "
                          "stopping here. Lower the threshold or train the baseline longer.", stacklevel=2)
            break
        x_train = torch.cat([x_labeled, x_unlabeled[mask]])
        y_train = torch.cat([y_labeled, pseudo_labels[mask]])
        n_epochs = round_epochs or max(1, round(round_budget * epochs * len(x_labeled) / len(x_train)))
        if from_scratch:
            model = make_model(num_classes, width, seed=seed + r)
        else:  # keep training a copy, so the caller's baseline (and earlier rounds) stay as they were
            model = copy.deepcopy(model)
        augment = {} if student_augment is None else {"augment": student_augment}
        fit(model, x_train, y_train, epochs=n_epochs, seed=seed + r, precision=precision, progress=progress,
            desc=f"round {r}", **augment)
        truth = None if y_unlabeled_true is None else y_unlabeled_true[mask]
        record = RoundRecord(
            round=r, n_train=len(x_train), n_selected=n_selected,
            selected_per_class=torch.bincount(pseudo_labels[mask], minlength=num_classes).tolist(),
            pseudo_label_accuracy=_accuracy(pseudo_labels[mask], truth),
            test_accuracy=test_acc(model), seconds=time.perf_counter() - start)
        records.append(record)
        result.probs.append(probs)
        result.masks.append(mask)
        result.model = model
        plabel = "n/a" if record.pseudo_label_accuracy is None else f"{record.pseudo_label_accuracy:.4f}"
        test = "n/a" if record.test_accuracy is None else f"{record.test_accuracy:.4f}"
        say(f"round {r}: kept {n_selected} pseudo-labels {record.selected_per_class} "
            f"(accuracy {plabel}), trained on {len(x_train)} images for {n_epochs} epochs, "
            f"test accuracy {test}, {record.seconds:.1f} s")
    return result
