"""Side by side: the course's CNN (width 16) against one of half the width, as a lever for CI's time.

Times supervised epochs of the baseline recipe on the course's 2,000 labelled images at both
widths, in the same process, with the thread count this process was given (the README's test
command runs its workers with ``OMP_NUM_THREADS=1``), and prints seconds per epoch and the ratio.
With ``--accuracy`` it also loads (or trains) quick mode's 20-epoch baseline of seed 0 at both
widths through the run cache and prints their test accuracy on quick mode's 1,000 test images and
the share of quick mode's 2,000 pool images they predict above 0.9: a narrower model is a lever
for CI only if its quick runs behave as the course's quick runs do (the quick suite's checks ask
for both: enough confident pseudo-labels to keep, and accuracy well above chance). Measured on a
float32 AVX2 machine, width 8 trained 2.4-2.6x faster and as accurately but kept half as many
pseudo-labels, and 13 of the quick suite's checks failed with it, so quick mode keeps width 16
(README, the CI row of the targets).

    OMP_NUM_THREADS=1 python benchmarks/quick_width.py [--epochs 3] [--accuracy]
"""
from __future__ import annotations

import argparse
import os
from dataclasses import replace

import torch

import helpers as h
from benchmarks.precision import seconds_per_epoch
from helpers import config, runs, specs
from helpers.train import predict_proba

WIDTHS = (16, 8)  # the course's (specs.BaselineRun().width, both modes), and half of it


def width_seconds(width: int, data, epochs: int) -> float:
    """Seconds per supervised epoch of the baseline recipe at ``width``, after one warm-up epoch."""
    spec = specs.BaselineRun()
    train = lambda n: h.fit(h.make_model(width=width, seed=0), data.x_labeled, data.y_labeled, epochs=n,
                            batch_size=spec.batch_size, seed=0, precision=spec.precision, progress=False)
    train(1)  # warm-up: first-call allocations and kernel selection
    return seconds_per_epoch(train, epochs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per width")
    parser.add_argument("--accuracy", action="store_true",
                        help="also the quick 20-epoch baselines' test accuracy (needs PSEUDO_QUICK=1)")
    args = parser.parse_args(argv)
    if args.accuracy and not config.QUICK:
        parser.error("--accuracy compares quick mode's baselines: run it with PSEUDO_QUICK=1")

    data = h.course_data()
    print(f"{torch.get_num_threads()} thread(s) (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
          f"precision {specs.PRECISION}, batch {specs.BaselineRun().batch_size}")
    times = {width: width_seconds(width, data, args.epochs) for width in WIDTHS}
    print(f"{'width':>6}{'s/epoch':>10}{'parameters':>12}")
    for width, seconds in times.items():
        parameters = sum(p.numel() for p in h.make_model(width=width).parameters())
        print(f"{width:>6}{seconds:>10.2f}{parameters:>12,}")
    print(f"width 8 takes {times[8] / times[16]:.2f}x the time of width 16 an epoch ({times[16] / times[8]:.2f}x faster)")
    if args.accuracy:
        for width in WIDTHS:
            spec = replace(specs.BaselineRun(), width=width)
            result, graded = runs.baseline(spec), runs.data_for(spec)
            confident = (predict_proba(result["model"], graded.x_unlabeled).max(1).values > 0.9).float().mean()
            print(f"quick baseline, width {width}, seed 0: test accuracy {100 * result['test_accuracy']:.1f} % "
                  f"on {len(graded.y_test):,} test images; {100 * confident:.1f} % of {len(graded.x_unlabeled):,} "
                  f"pool images above 0.9; {result['seconds']:.0f} s to train")


if __name__ == "__main__":
    main()
