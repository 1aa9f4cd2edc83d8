"""The course's split: the labelled, unlabelled and test images every notebook and run uses."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from . import config
from .data import load_cats_dogs, split_labeled_unlabeled


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


@functools.lru_cache(maxsize=4)
def course_data(n_labeled: int = 2000, split_seed: int = config.SEED) -> CourseData:
    """The images, decoded once per process, split stratified into labelled and unlabelled."""
    data = load_cats_dogs()
    split = split_labeled_unlabeled(data.y_train, n_labeled, split_seed)
    return CourseData(data.x_train[split.labeled], data.y_train[split.labeled],
                      data.x_train[split.unlabeled], data.y_train[split.unlabeled],
                      data.x_test, data.y_test, data.classes, data.source)
