"""The course's shared setting: one data split, one baseline, one oracle - computed once, reused.

Every notebook starts from ``course_data()``. Models and results are saved under ``outputs/``
with the config that made them; a notebook reuses them when the config matches and
recomputes them when not, so each notebook also runs alone on a fresh kernel.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from . import config
from .data import load_cats_dogs, split_labeled_unlabeled
from .models import make_model
from .train import CheckpointError, fit, load_checkpoint, save_checkpoint

N_LABELED = 2000
EPOCHS = config.pick(40, 3)   # the supervised baseline's epochs
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
    """Load ``outputs/<name>-<key>.pt`` if it was saved with these settings, else ``train()`` and save."""
    path = Path(config.OUTPUT_DIR) / f"{name}-{run_key(**settings)}.pt"
    try:
        model, meta = load_checkpoint(path)
        if meta.get("settings") == settings:
            return model
    except CheckpointError:
        pass
    model = train()
    save_checkpoint(model, path, settings=settings)
    return model


def baseline_model(data: CourseData, epochs: int = EPOCHS, width: int = WIDTH,
                   seed: int = config.SEED, progress: bool = True) -> nn.Module:
    """The supervised baseline: trained on the labelled images only."""
    def train():
        model = make_model(len(data.classes), width, seed=seed)
        fit(model, data.x_labeled, data.y_labeled, epochs=epochs, seed=seed, progress=progress, desc="baseline")
        return model
    return cached_model("baseline", train, n_labeled=len(data.y_labeled), epochs=epochs, width=width, seed=seed)


def oracle_model(data: CourseData, epochs: int | None = None, width: int = WIDTH,
                 seed: int = config.SEED, progress: bool = True) -> nn.Module:
    """The ceiling: the same model trained on all 10,000 training images with their true labels."""
    epochs = epochs if epochs is not None else config.pick(16, 1)
    def train():
        x = torch.cat([data.x_labeled, data.x_unlabeled])
        y = torch.cat([data.y_labeled, data.y_unlabeled_hidden])
        model = make_model(len(data.classes), width, seed=seed)
        fit(model, x, y, epochs=epochs, seed=seed, progress=progress, desc="oracle")
        return model
    return cached_model("oracle", train, n_train=len(data.y_labeled) + len(data.y_unlabeled_hidden),
                        epochs=epochs, width=width, seed=seed)
