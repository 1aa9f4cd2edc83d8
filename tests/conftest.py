"""Shared fixtures: the real cat/dog data (loaded once), an isolated data folder, toy images."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import config, load_cats_dogs


@pytest.fixture(scope="session")
def catdog():
    return load_cats_dogs()


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """Point the data folder at an empty temporary one and hide the shared images."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setattr(config, "DATA_DIR", data_dir)
    monkeypatch.setattr(config, "SHARED_DATA", tmp_path / "no-shared-data")
    monkeypatch.delenv("CATDOG_DATA", raising=False)
    return data_dir


def write_image(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode).save(path)
    return path


def toy_images(n_per_class=32, size=16, seed=0):
    """Two trivially separable classes: dark images (0) and bright images (1)."""
    g = torch.Generator().manual_seed(seed)
    dark = torch.randint(0, 80, (n_per_class, 3, size, size), generator=g)
    bright = torch.randint(170, 256, (n_per_class, 3, size, size), generator=g)
    x = torch.cat([dark, bright]).to(torch.uint8)
    y = torch.cat([torch.zeros(n_per_class), torch.ones(n_per_class)]).long()
    return x, y


def toy_course_data():
    """A CourseData of toy images: 16 labelled (8 a class), 32 unlabelled, 16 test images."""
    from helpers.course import CourseData
    x, y = toy_images(24, size=16, seed=0)
    x_test, y_test = toy_images(8, size=16, seed=1)
    labeled = torch.cat([torch.arange(8), torch.arange(24, 32)])
    unlabeled = torch.tensor(sorted(set(range(48)) - set(labeled.tolist())))
    return CourseData(x[labeled], y[labeled], x[unlabeled], y[unlabeled], x_test, y_test, ("cat", "dog"), "toy")
