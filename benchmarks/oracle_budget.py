"""The oracle's accuracy against its budget: where does training on all 10,000 true labels stop improving?

Trains (or loads from outputs/runs/) the all-labels oracle for each number of epochs and
prints its test accuracy with its standard error, its optimizer steps in baseline budgets,
and the change from the previous budget. Notebook 11 compares methods with the oracle at
their own budget and with the oracle at its plateau.

    python benchmarks/oracle_budget.py [--epochs 8 16 32 64] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from helpers import runs  # noqa: E402
from helpers.metrics import standard_error  # noqa: E402
from helpers.specs import BaselineRun, OracleRun  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    budget = runs.baseline_steps(BaselineRun(seed=args.seed))
    print("epochs | budgets | test accuracy | change | minutes")
    previous = None
    for epochs in sorted(args.epochs):
        result = runs.oracle(OracleRun(seed=args.seed, epochs=epochs))
        acc, n_test = result["test_accuracy"], len(runs.data_for(result["spec"]).y_test)
        change = "" if previous is None else f"{100 * (acc - previous):+.1f}"
        print(f"{epochs:6d} | {result['steps'] / budget:7.1f} | {acc:.1%} ± {standard_error(acc, n_test):.1%} | "
              f"{change:>6} | {result['seconds'] / 60:.1f}", flush=True)
        previous = acc
    return 0


if __name__ == "__main__":
    sys.exit(main())
