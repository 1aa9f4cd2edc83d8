"""Side by side: training in float32 against bfloat16 autocast (``helpers.fit(..., precision=...)``).

Times two workloads on the course's labelled and unlabelled images, in the same process:
supervised epochs of the baseline recipe, and FixMatch epochs (64 labelled + 128 unlabelled
images a step, two views of the unlabelled batch), with the width and batch sizes of the course's
specs. Prints seconds per epoch and the ratio. ``helpers.fast_precision()`` (every spec's
default ``precision``, ``specs.PRECISION``) picks bfloat16 only where the hardware computes it
natively; on other CPUs bfloat16 is emulated and this benchmark shows it slower.

    python benchmarks/precision.py [--epochs 2]
"""
from __future__ import annotations

import argparse
import time

import helpers as h
from helpers.methods.fixmatch import train_fixmatch
from helpers.specs import PRECISION, BaselineRun, FixMatchRun


def seconds_per_epoch(train, epochs: int) -> float:
    start = time.perf_counter()
    train(epochs)
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed per workload and precision")
    args = parser.parse_args()

    data = h.course_data()
    base, fm = BaselineRun(), FixMatchRun()
    print(f"device {h.get_device()}, fast_precision() -> {h.fast_precision()!r} (the specs' precision: {PRECISION!r})")
    workloads = {
        f"supervised ({base.batch_size} a step)": lambda precision: lambda epochs: h.fit(
            h.make_model(width=base.width, seed=0), data.x_labeled, data.y_labeled, epochs=epochs,
            batch_size=base.batch_size, seed=0, precision=precision, progress=False),
        f"FixMatch ({fm.batch_size} + 2x{fm.mu * fm.batch_size} a step)": lambda precision: lambda epochs: train_fixmatch(
            h.make_model(width=base.width, seed=0), data.x_labeled, data.y_labeled, data.x_unlabeled,
            epochs=epochs, batch_size=fm.batch_size, mu=fm.mu, seed=0, precision=precision, progress=False),
    }
    print(f"{'workload':<30}{'fp32 s/epoch':>14}{'bf16 s/epoch':>14}{'speed-up':>10}")
    for name, make in workloads.items():
        make("fp32")(1)  # warm-up: first-call allocations and kernel selection
        fp32 = seconds_per_epoch(make("fp32"), args.epochs)
        bf16 = seconds_per_epoch(make("bf16"), args.epochs)
        print(f"{name:<30}{fp32:>14.2f}{bf16:>14.2f}{fp32 / bf16:>9.2f}x")


if __name__ == "__main__":
    main()
