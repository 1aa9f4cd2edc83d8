"""Settings read once: quick mode, where data and outputs live, the default seed.

Quick mode (``PSEUDO_QUICK=1``) shortens training - fewer epochs and rounds - for CI and
for a first pass through the notebooks. It keeps the split (the same 2,000 labelled images)
but predicts and grades on part of the rest: ``POOL_IMAGES`` of the 8,000 unlabelled images
and ``TEST_IMAGES`` of the 2,000 test images, a stratified random part fixed by the split seed,
because most of a quick run's time is spent predicting them. Full mode uses all of them. It
saves under ``outputs/quick/``, so a quick run never replaces a full run's results (the README
and the notebooks cite those).
"""
from __future__ import annotations

import os
from pathlib import Path

SEED = 0

_TRUE = {"1", "true", "yes", "on"}
QUICK = os.environ.get("PSEUDO_QUICK", "").strip().lower() in _TRUE


def _project_root() -> Path:
    """The repository root when ``helpers`` lives in a checkout, else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists() and (here / "helpers").is_dir():
        return here
    return Path.cwd()


PROJECT_ROOT = Path(os.environ.get("PSEUDO_HOME", _project_root())).resolve()
DATA_DIR = Path(os.environ.get("PSEUDO_DATA_DIR", PROJECT_ROOT / "data")).resolve()
_OUTPUTS = Path(os.environ.get("PSEUDO_OUTPUT_DIR", PROJECT_ROOT / "outputs")).resolve()
OUTPUT_DIR = _OUTPUTS / "quick" if QUICK else _OUTPUTS
# Read-only images for development and CI, beside the checkout (never committed).
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data" / "cifar10-catdog"


def pick(full, quick):
    """``full`` normally, ``quick`` in quick mode. Run lengths are decided with it in one place,
    the run specs' defaults (``helpers/specs.py``)."""
    return quick if QUICK else full


# The unlabelled and test images the course's split uses (None: all of them). Quick mode takes
# part of each: a run's predictions of the pool and the test set are most of its time there.
POOL_IMAGES = pick(None, 2000)
TEST_IMAGES = pick(None, 1000)
