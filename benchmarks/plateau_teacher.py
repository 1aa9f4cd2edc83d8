"""Self-training from a teacher trained to its plateau, against the same rounds without pseudo-labels.

The course's baseline stops after one budget, before it stops improving, so the rounds that
follow it gain from their extra steps as much as from their pseudo-labels (notebook 04, section
4.7). Here the teacher is the baseline trained for ``--teacher-epochs`` (default 160: 4 budgets,
where its test accuracy has levelled off; notebook 11, section 11.7). From it, on each seed of
the course split, two runs with the same rounds, steps, schedule and seeds:

- ``SelfTrainingRun``: the original method (threshold 0.9, 3 rounds, each continuing the model);
- ``LabelledRoundsRun``: the same rounds on the labelled images alone, the control.

Each round is ``--round-budget`` of the teacher's budget (default 0.25: one baseline budget,
640 steps, as in the course's default). Prints each seed's test and pool accuracy (the 8,000
unlabelled images against their hidden labels) and the paired differences, and saves them with
the settings (default JSON: outputs/plateau_teacher.json). Every run is a cached spec: loaded
from ``outputs/runs/`` when it is there, else trained and saved.

    python benchmarks/plateau_teacher.py [--seeds 0 1 2] [--teacher-epochs 160] [--round-budget 0.25] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from helpers import config, runs
from helpers.io import atomic_write
from helpers.metrics import paired_difference
from helpers.specs import BaselineRun, LabelledRoundsRun, SelfTrainingRun

ARMS = ("teacher", "self-training", "labelled only")


def measure(seed: int, teacher_epochs: int, round_budget: float) -> dict[str, dict[str, float]]:
    """Test and pool accuracy of the teacher and of both arms that continue it, for one seed."""
    teacher = BaselineRun(seed=seed, epochs=teacher_epochs)
    results = {"teacher": runs.baseline(teacher),
               "self-training": runs.self_training(SelfTrainingRun(baseline=teacher, round_budget=round_budget)),
               "labelled only": runs.labelled_rounds(LabelledRoundsRun(baseline=teacher, round_budget=round_budget))}
    data = runs.data_for(teacher)
    return {arm: {"test": r["test_accuracy"], "pool": runs.pool_accuracy(r, data)} for arm, r in results.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--teacher-epochs", type=int, default=160)
    parser.add_argument("--round-budget", type=float, default=0.25, help="a round's steps, in teacher budgets")
    parser.add_argument("--json", type=Path, default=config.OUTPUT_DIR / "plateau_teacher.json")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, precision {BaselineRun().precision}, seeds {args.seeds}, "
          f"teacher {args.teacher_epochs} epochs, rounds of {args.round_budget:g} of its budget, quick mode {config.QUICK}")
    by_seed = {s: measure(s, args.teacher_epochs, args.round_budget) for s in args.seeds}
    print(f"\n{'seed':>4}" + "".join(f"{arm + ', ' + key:>24}" for key in ("test", "pool") for arm in ARMS))
    for s, m in by_seed.items():
        print(f"{s:>4}" + "".join(f"{m[arm][key]:>24.2%}" for key in ("test", "pool") for arm in ARMS))
    differences = {}
    for key in ("test", "pool"):
        for a, b in (("self-training", "teacher"), ("labelled only", "teacher"), ("self-training", "labelled only")):
            mean, std, diffs = paired_difference({s: m[a][key] for s, m in by_seed.items()},
                                                 {s: m[b][key] for s, m in by_seed.items()})
            differences[f"{key}: {a} − {b}"] = {"mean": mean, "std": std, "per_seed": diffs}
            print(f"{key}: {a} − {b}: {100 * mean:+.2f} ± {100 * std:.2f} points "
                  f"(per seed {' / '.join(f'{100 * d:+.2f}' for d in diffs)})")
    saved = {"settings": {"teacher_epochs": args.teacher_epochs, "round_budget": args.round_budget,
                          "precision": BaselineRun().precision, "quick": config.QUICK},
             "seeds": {str(s): m for s, m in by_seed.items()}, "differences": differences}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.json, lambda tmp: Path(tmp).write_text(json.dumps(saved, indent=1, ensure_ascii=False)))


if __name__ == "__main__":
    main()
