"""How far a longer FixMatch-style run gets towards the oracle, over several seeds.

Runs ``helpers.runs.fixmatch`` (warm-started from each seed's baseline) for more epochs than
the notebooks can afford, and prints each seed's test accuracy next to its oracle's, the
mean and standard deviation, the gap, and the minutes per run including the baseline's
training. Runs are saved in ``outputs/runs/`` like the notebooks' and reused; the minutes are
the recorded training times.

    python benchmarks/longer_runs.py [--rule flexmatch] [--epochs 160] [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import statistics

from helpers import runs
from helpers.specs import PRECISION, FixMatchRun, OracleRun, with_seed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="flexmatch", choices=["fixed", "flexmatch", "freematch"])
    parser.add_argument("--epochs", type=int, default=160, help="passes over the labelled images")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)

    print(f"{args.rule}, {args.epochs} epochs, precision {PRECISION}")
    print(f"{'seed':>4}{'test accuracy':>15}{'oracle':>9}{'minutes with the baseline':>28}")
    accuracies, oracles, minutes = [], [], []
    for seed in args.seeds:
        spec = with_seed(FixMatchRun(rule=args.rule, epochs=args.epochs), seed)
        run = runs.fixmatch(spec)
        baseline = runs.baseline(spec.baseline)
        oracle = runs.oracle(with_seed(OracleRun(), seed))
        accuracies.append(run["test_accuracy"])
        oracles.append(oracle["test_accuracy"])
        minutes.append((run["seconds"] + baseline["seconds"]) / 60)
        print(f"{seed:>4}{accuracies[-1]:>15.2%}{oracles[-1]:>9.2%}{minutes[-1]:>28.1f}")
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    gap = statistics.mean(oracles) - statistics.mean(accuracies)
    print(f"mean {statistics.mean(accuracies):.2%} ± {spread:.2%}; oracle {statistics.mean(oracles):.2%}; "
          f"{100 * gap:.2f} points below it; {statistics.mean(minutes):.1f} minutes a run")


if __name__ == "__main__":
    main()
