"""The original method: softmax pseudo-labels, a confidence threshold, training on in rounds."""
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
from .metrics import accuracy
from .models import make_model
from .train import TrainStep, evaluate, fit, predict_proba


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
    pseudo_label_accuracy: float | None  # of the kept pseudo-labels, against the hidden truth
    test_accuracy: float | None
    labeled_accuracy: float            # on the labelled images, no augmentation: the guard's signal
    seconds: float
    accepted: bool = True              # False: the guard kept the previous model
    history: dict = field(default_factory=dict)  # fit's loss and accuracy per epoch


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


# Fifteen keyword settings: the write-up's choices that notebook 04 turns one by one; grouping them in
# an object would hide from the reader the knobs the lesson turns.
def self_train(x_labeled: torch.Tensor, y_labeled: torch.Tensor, x_unlabeled: torch.Tensor,
               model: nn.Module, *, threshold: float = 0.9, rounds: int = 3, round_steps: int = 1280,
               from_scratch: bool = False, lr: float = 0.1, guard: float | None = 0.05,
               selection: Callable[[torch.Tensor, int, torch.Tensor], torch.Tensor] | None = None,
               test: tuple[torch.Tensor, torch.Tensor] | None = None,
               y_unlabeled_hidden: torch.Tensor | None = None, precision: str = "fp32",
               step: TrainStep | None = None, seed: int = config.SEED, progress: bool = True,
               log: Callable[[str], None] | None = print,
               train_labels: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> SelfTrainResult:
    """From the trained baseline ``model``, ``rounds`` of: predict the unlabelled pool (softmax ->
    max probability -> argmax), keep ``max_probs > threshold`` (or ``selection(max_probs, round,
    pseudo_labels)``, e.g. Curriculum Labeling's percentile), train ``round_steps`` steps on labelled + kept images:
    continuing the previous model, as the write-up says, or a fresh one (``from_scratch``).
    The guard keeps the previous model when a round's accuracy on the labelled images falls by
    more than ``guard`` (``None``: off). ``step`` is what each round's optimizer step computes (default:
    ``fit``'s, the baseline's weak augmentation). ``y_unlabeled_hidden`` grades pseudo-labels, never trains.
    Stops early, with a warning, when no pseudo-label passes the threshold. ``train_labels(pseudo_labels,
    mask)`` replaces what the kept images are trained on: only for an upper-bound control in a benchmark
    (``benchmarks/round_recipes.py``'s true labels of the same kept images); the course never sets it.
    """
    select_confident(torch.zeros(0), threshold)  # validate before any training
    if rounds < 0:
        raise ValueError(f"rounds must be 0 or more, not {rounds}")
    num_classes = int(y_labeled.max()) + 1 if len(y_labeled) else 2
    say = log or (lambda message: None)
    test_acc = (lambda m: evaluate(m, *test)) if test is not None else (lambda m: None)
    records = [RoundRecord(0, len(x_labeled), 0, [0] * num_classes, None, test_acc(model),
                           evaluate(model, x_labeled, y_labeled), 0.0)]
    say(f"round 0 (baseline): {len(x_labeled)} labelled images, test accuracy {_show(records[0].test_accuracy)}")
    result = SelfTrainResult(records, model, threshold)
    reference = records[0].labeled_accuracy  # the kept model's, for the guard

    for r in range(1, rounds + 1):
        start = time.perf_counter()
        probs = predict_proba(result.model, x_unlabeled)
        max_probs, pseudo_labels = pseudo_label(probs)
        mask = select_confident(max_probs, threshold) if selection is None else selection(max_probs, r, pseudo_labels)
        if not mask.any():
            warnings.warn(f"round {r}: no pseudo-label has confidence above {threshold}; "
                          "stopping here. Lower the threshold or train the baseline longer.", stacklevel=2)
            break
        x_train = torch.cat([x_labeled, x_unlabeled[mask]])
        targets = pseudo_labels if train_labels is None else train_labels(pseudo_labels, mask)
        y_train = torch.cat([y_labeled, targets[mask]])
        epochs = round_epochs(round_steps, len(x_train))
        model = (make_model(num_classes, **_arch(result.model), seed=seed + r) if from_scratch
                 else copy.deepcopy(result.model))  # a copy: the baseline and earlier rounds stay as they were
        history = fit(model, x_train, y_train, epochs=epochs, lr=lr, step=step, seed=seed + r,
                      precision=precision, progress=progress, desc=f"round {r}")
        labeled_acc = evaluate(model, x_labeled, y_labeled)
        accepted = guard is None or labeled_acc >= reference - guard
        truth = None if y_unlabeled_hidden is None else y_unlabeled_hidden[mask]
        record = RoundRecord(  # a rejected round reports the test accuracy of the model kept
            round=r, n_train=len(x_train), n_selected=int(mask.sum()),
            selected_per_class=torch.bincount(pseudo_labels[mask], minlength=num_classes).tolist(),
            pseudo_label_accuracy=None if truth is None else accuracy(pseudo_labels[mask], truth),
            test_accuracy=test_acc(model if accepted else result.model), labeled_accuracy=labeled_acc,
            seconds=time.perf_counter() - start, accepted=accepted, history=history)
        records.append(record)
        result.probs.append(probs)
        result.masks.append(mask)
        say(_round_line(record, epochs, reference, guard))
        if accepted:
            result.model, reference = model, labeled_acc
    return result


# self_train's settings for its rounds, each one: the control must take exactly the rounds it takes.
def control_rounds(x_labeled: torch.Tensor, y_labeled: torch.Tensor, model: nn.Module, *, rounds: int = 3,
                   round_steps: int = 1280, lr: float = 0.1, test: tuple[torch.Tensor, torch.Tensor] | None = None,
                   precision: str = "fp32", seed: int = config.SEED, progress: bool = True,
                   log: Callable[[str], None] | None = print) -> SelfTrainResult:
    """The control for ``self_train``: its rounds from a copy of ``model`` (the same steps, learning
    rate schedule and seeds), each continuing the model on the labelled images alone, with no
    pseudo-label. What the rounds' extra optimizer steps buy by themselves: a gain of
    ``self_train`` over this, not over the baseline, is the pseudo-labels' own."""
    if rounds < 0:
        raise ValueError(f"rounds must be 0 or more, not {rounds}")
    num_classes = int(y_labeled.max()) + 1 if len(y_labeled) else 2
    say = log or (lambda message: None)
    test_acc = (lambda m: evaluate(m, *test)) if test is not None else (lambda m: None)
    model = copy.deepcopy(model)  # the baseline stays as it was
    records = [RoundRecord(0, len(x_labeled), 0, [0] * num_classes, None, test_acc(model),
                           evaluate(model, x_labeled, y_labeled), 0.0)]
    epochs = round_epochs(round_steps, len(x_labeled))  # self_train's rounding, with no pool
    for r in range(1, rounds + 1):
        start = time.perf_counter()
        history = fit(model, x_labeled, y_labeled, epochs=epochs, lr=lr, seed=seed + r, precision=precision,
                      progress=progress, desc=f"round {r}, labelled only")
        records.append(RoundRecord(r, len(x_labeled), 0, [0] * num_classes, None, test_acc(model),
                                   evaluate(model, x_labeled, y_labeled), time.perf_counter() - start,
                                   history=history))
        say(f"control round {r}: the {len(x_labeled)} labelled images only, {epochs} epochs, labelled accuracy "
            f"{records[-1].labeled_accuracy:.4f}, test accuracy {_show(records[-1].test_accuracy)}")
    return SelfTrainResult(records, model, threshold=float("nan"))


def round_epochs(round_steps: int, n_train: int, batch_size: int = 128) -> int:
    """A round's whole epochs: ``round_steps`` optimizer steps, rounded to whole passes over its
    ``n_train`` images (at least one). Self-training and its control round the same way."""
    return max(1, round(round_steps / math.ceil(n_train / batch_size)))


def _round_line(record: RoundRecord, epochs: int, reference: float, guard: float | None) -> str:
    """The log line of one round (and, for a rejected one, why the previous model was kept)."""
    loss = record.history["train_loss"]
    line = (f"round {record.round}: kept {record.n_selected} pseudo-labels {record.selected_per_class} "
            f"(accuracy {_show(record.pseudo_label_accuracy)}), trained on {record.n_train} images for "
            f"{epochs} epochs (loss {loss[0]:.3f} -> {loss[-1]:.3f}), labelled accuracy "
            f"{record.labeled_accuracy:.4f}, test accuracy {_show(record.test_accuracy)}, {record.seconds:.1f} s")
    if not record.accepted:
        line += (f"\nround {record.round} rejected by the guard: labelled accuracy fell from {reference:.4f} to "
                 f"{record.labeled_accuracy:.4f} (more than {guard}); keeping the previous model")
    return line


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _arch(model: nn.Module) -> dict:
    arch = dict(getattr(model, "arch", {}))
    arch.pop("num_classes", None)
    return arch
