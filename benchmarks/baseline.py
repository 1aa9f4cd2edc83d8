"""The supervised baseline's two targets, measured: test accuracy and training time.

Trains the course's baseline (2,000 labelled images, the default recipe and seed) once and
prints the wall time of `fit`, of `fit` plus the test evaluation, and the test accuracy.

    python benchmarks/baseline.py [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

import helpers as h
from helpers import course


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    data = h.course_data()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {h.get_device()}, "
          f"{len(data.y_labeled)} labelled images, {course.EPOCHS} epochs")
    for seed in args.seeds:
        start = time.perf_counter()
        model = h.make_model(width=course.WIDTH, seed=seed)
        h.fit(model, data.x_labeled, data.y_labeled, epochs=course.EPOCHS, seed=seed, progress=False)
        trained = time.perf_counter()
        accuracy = h.evaluate(model, data.x_test, data.y_test)
        done = time.perf_counter()
        print(f"seed {seed}: fit {trained - start:.1f} s, fit + test evaluation {done - start:.1f} s, "
              f"test accuracy {accuracy:.1%}")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
