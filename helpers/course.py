"""The course's shared setting: one data split, one baseline, one oracle - computed once, reused.

Every notebook starts from ``course_data()``. Models and results are saved under ``outputs/``
with the config that made them; a notebook reuses them when the config matches and
recomputes them when not, so each notebook also runs alone on a fresh kernel.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from . import config
from .data import load_cats_dogs, split_labeled_unlabeled
from .augment import strong_augment, weak_augment
from .models import make_model
from .io import atomic_write
from .pseudo import ROUND_BUDGET, pseudo_label, self_train
from .train import CheckpointError, fit, load_checkpoint, save_checkpoint

N_LABELED = 2000
EPOCHS = config.pick(40, 20)  # the supervised baseline's epochs
WIDTH = 16


@dataclass(frozen=True)
class CourseData:
    """The split every notebook uses. ``y_unlabeled_hidden`` grades pseudo-labels; never train on it."""

    x_labeled: torch.Tensor
    y_labeled: torch.Tensor
    x_unlabeled: torch.Tensor
    y_unlabeled_hidden: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str


def course_data(n_labeled: int = N_LABELED, seed: int = config.SEED) -> CourseData:
    data = load_cats_dogs()
    split = split_labeled_unlabeled(data.y_train, n_labeled, seed)
    return CourseData(data.x_train[split.labeled], data.y_train[split.labeled],
                      data.x_train[split.unlabeled], data.y_train[split.unlabeled],
                      data.x_test, data.y_test, data.classes, data.source)


def run_key(**settings) -> str:
    """A short, stable name for a config, used in file names under outputs/."""
    text = json.dumps({**settings, "quick": config.QUICK}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def cached_model(name: str, train, **settings) -> nn.Module:
    """Load ``outputs/<name>-<key>.pt`` if it was saved with these settings, else ``train()`` and save.

    The training time is saved too, and set on the model as ``model.train_seconds``.
    """
    path = Path(config.OUTPUT_DIR) / f"{name}-{run_key(**settings)}.pt"
    try:
        model, meta = load_checkpoint(path)
        if meta.get("settings") == settings and "seconds" in meta:
            model.train_seconds = meta["seconds"]
            return model
    except CheckpointError:
        pass
    start = time.perf_counter()
    model = train()
    seconds = time.perf_counter() - start
    save_checkpoint(model, path, settings=settings, seconds=seconds)
    model.train_seconds = seconds
    return model


def cached_run(name: str, compute: Callable[[], tuple[dict, nn.Module]], **settings) -> dict:
    """Reuse ``outputs/<name>-<key>.pt`` (results) and ``.model.pt`` (the final model) when they
    were saved with these settings; else ``compute() -> (results, model)`` and save both.

    Returns the results with the model under ``"model"``. ``results`` holds numbers, strings,
    lists and tensors (they are loaded back with ``weights_only=True``).
    """
    path = Path(config.OUTPUT_DIR) / f"{name}-{run_key(**settings)}.pt"
    if path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            if saved.get("settings") == settings:
                model, _ = load_checkpoint(path.with_suffix(".model.pt"))
                return {k: v for k, v in saved.items() if k != "settings"} | {"model": model}
        except (CheckpointError, RuntimeError, OSError, AttributeError):
            pass
    results, model = compute()
    save_checkpoint(model, path.with_suffix(".model.pt"), settings=settings)
    atomic_write(path, lambda tmp: torch.save({"settings": settings, **results}, tmp))
    return {**results, "model": model}


def baseline_model(data: CourseData, epochs: int = EPOCHS, width: int = WIDTH,
                   seed: int = config.SEED, augment: str = "weak", progress: bool = True) -> nn.Module:
    """The supervised baseline: trained on the labelled images only, with the weak (flip and
    crop) or the ``"strong"`` augmentation."""
    augmentations = {"weak": weak_augment, "strong": strong_augment}
    if augment not in augmentations:
        raise ValueError(f"augment must be 'weak' or 'strong', not {augment!r}")

    def train():
        model = make_model(len(data.classes), width, seed=seed)
        fit(model, data.x_labeled, data.y_labeled, epochs=epochs, seed=seed, progress=progress,
            augment=augmentations[augment], desc="baseline")
        return model
    extra = {} if augment == "weak" else {"augment": augment}  # the weak default keeps its old file name
    return cached_model("baseline", train, n_labeled=len(data.y_labeled), epochs=epochs, width=width, seed=seed, **extra)


def oracle_model(data: CourseData, epochs: int | None = None, width: int = WIDTH,
                 seed: int = config.SEED, progress: bool = True) -> nn.Module:
    """The ceiling: the same model trained on all 10,000 training images with their true labels."""
    epochs = epochs if epochs is not None else config.pick(16, 6)
    def train():
        x = torch.cat([data.x_labeled, data.x_unlabeled])
        y = torch.cat([data.y_labeled, data.y_unlabeled_hidden])
        model = make_model(len(data.classes), width, seed=seed)
        fit(model, x, y, epochs=epochs, seed=seed, progress=progress, desc="oracle")
        return model
    return cached_model("oracle", train, n_train=len(data.y_labeled) + len(data.y_unlabeled_hidden),
                        epochs=epochs, width=width, seed=seed)


ROUNDS = config.pick(3, 2)


def self_training_run(data: CourseData, threshold: float = 0.9, rounds: int = ROUNDS,
                      from_scratch: bool = True, epochs: int = EPOCHS, width: int = WIDTH,
                      seed: int = config.SEED, progress: bool = True) -> dict:
    """``self_train`` from the course's baseline, saved under ``outputs/`` and reused when the
    settings match. Returns the per-round records (dicts) and, per round, the mask and the
    pseudo-labels of the unlabelled pool, plus the final model."""
    settings = dict(threshold=threshold, rounds=rounds, from_scratch=from_scratch, epochs=epochs,
                    round_budget=ROUND_BUDGET,
                    width=width, seed=seed, n_labeled=len(data.y_labeled))

    def compute():
        baseline = baseline_model(data, epochs=epochs, width=width, seed=seed, progress=progress)
        result = self_train(data.x_labeled, data.y_labeled, data.x_unlabeled, threshold=threshold,
                            rounds=rounds, epochs=epochs, round_budget=ROUND_BUDGET, width=width,
                            from_scratch=from_scratch, x_test=data.x_test, y_test=data.y_test,
                            y_unlabeled_true=data.y_unlabeled_hidden, baseline_model=baseline,
                            seed=seed, progress=progress)
        run = {
            "records": result.to_dict()["records"],
            "masks": result.masks,
            "pseudo_labels": [pseudo_label(p)[1] for p in result.probs],
            "max_probs": [pseudo_label(p)[0] for p in result.probs],
        }
        return run, result.model

    return cached_run("selftrain", compute, **settings)
