"""The supervised baseline's two targets, measured: test accuracy and training time.

Trains the course's baseline (``runs.baseline(BaselineRun())``: 2,000 labelled images, the
spec's recipe, precision and seed) in a temporary outputs folder, so that it is trained, never
loaded from ``outputs/runs/``, and prints the wall time of `fit`, of `fit` plus the test
evaluation, and the test accuracy.

    python benchmarks/baseline.py [--seeds 0 1 2] [--epochs 160]

``--epochs`` trains it longer, e.g. for as many steps as a method that starts from it (160 epochs:
the baseline's 40 and three rounds of one budget each): the supervised control at a matched budget.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import torch

import helpers as h
from helpers import config, runs
from helpers.specs import BaselineRun, with_seed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=BaselineRun().epochs, help="passes over the labelled images")
    args = parser.parse_args(argv)
    spec = BaselineRun(epochs=args.epochs)
    data = runs.data_for(spec)  # decoded before the clock starts
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {h.get_device()}, "
          f"{len(data.y_labeled)} labelled images, {spec.epochs} epochs, width {spec.width}, "
          f"precision {spec.precision}")
    saved_runs = config.OUTPUT_DIR
    with tempfile.TemporaryDirectory(prefix="bench-") as out:
        config.OUTPUT_DIR = Path(out)  # a fresh cache: every seed is trained here
        try:
            for seed in args.seeds:
                run = runs.baseline(with_seed(spec, seed))
                print(f"seed {seed}: fit {run['history']['seconds'][-1]:.1f} s, fit + test evaluation "
                      f"{run['seconds']:.1f} s, test accuracy {run['test_accuracy']:.2%}")
        finally:
            config.OUTPUT_DIR = saved_runs
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
