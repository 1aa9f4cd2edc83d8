"""Settings read once: quick mode, where data and outputs live, the default seed.

Quick mode (``PSEUDO_QUICK=1``) shortens training - fewer epochs and rounds - for CI and
for a first pass through the notebooks. It never changes the data, the split or its size,
so every count a notebook prints is the same in both modes. It saves under ``outputs/quick/``,
so a quick run never replaces a full run's results (the README and the notebooks cite those).
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
