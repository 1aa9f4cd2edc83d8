"""The course's split: the labelled, unlabelled and test images every notebook and run uses."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from . import config
from .data import CatsDogs, load_cats_dogs, split_labeled_unlabeled, stratified_subset


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
def course_data(n_labeled: int = 2000, split_seed: int = config.SEED, n_unlabeled: int | None = config.POOL_IMAGES,
                n_test: int | None = config.TEST_IMAGES) -> CourseData:
    """The images, decoded once per process, split by ``split_course``: quick mode's defaults
    keep part of the pool and of the test set (``helpers.config``), full mode's all of them."""
    return split_course(load_cats_dogs(), n_labeled, split_seed, n_unlabeled, n_test)


def split_course(data: CatsDogs, n_labeled: int = 2000, split_seed: int = config.SEED,
                 n_unlabeled: int | None = None, n_test: int | None = None) -> CourseData:
    """``data`` split stratified into labelled and unlabelled images; ``n_unlabeled`` and ``n_test``
    (None: all) keep at most that many of the pool and of the test set, a stratified random part
    drawn with ``split_seed``. ``pseudo_labeling.py`` splits the folder it is given with it too."""
    split = split_labeled_unlabeled(data.y_train, n_labeled, split_seed)
    pool, x_test, y_test = split.unlabeled, data.x_test, data.y_test
    if n_unlabeled is not None and n_unlabeled < len(pool):
        pool = pool[stratified_subset(data.y_train[pool], n_unlabeled, split_seed + 1)]
    if n_test is not None and n_test < len(y_test):
        test = stratified_subset(y_test, n_test, split_seed + 2)
        x_test, y_test = x_test[test], y_test[test]
    return CourseData(data.x_train[split.labeled], data.y_train[split.labeled], data.x_train[pool],
                      data.y_train[pool], x_test, y_test, data.classes, data.source)
