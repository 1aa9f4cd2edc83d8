"""A FixMatch-style run trained for longer than the notebooks can afford, set fairly against
supervised training and the oracle at the same budget, on several seeds.

The leaderboard (notebook 11) trains FixMatch and its threshold rules for 2.5 baseline budgets of
optimizer steps. FixMatch's paper trains for about a million steps; here one budget is 640. This
script asks whether more steps change the verdict. For each seed of the course split it runs,
each a cached spec (loaded from ``outputs/runs/`` when there, else trained and saved):

- the method at the notebooks' epochs and at ``--epochs`` (warm-started from the seed's baseline);
- the **floor**: the baseline trained on the 2,000 labelled images alone for the long run's budget
  (``runs.supervised_control``);
- the **oracle** at the same budget: the model trained on all 10,000 true labels for as many steps.

It prints each seed's test accuracies, the paired differences (long run minus floor, long run minus
the notebooks' run), and the share of the baseline-to-oracle gap the long run closes, from the
one-budget baseline and from the floor, and saves them with the settings (default JSON:
outputs/longer_runs.json). Times are the recorded training times, the baseline's included.

    python benchmarks/longer_runs.py [--rule flexmatch] [--threshold 0.95] [--epochs 120] [--seeds 0 1 2] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from helpers import config, runs
from helpers.io import atomic_write
from helpers.metrics import mean_std, paired_difference
from helpers.specs import PRECISION, BaselineRun, FixMatchRun, with_seed


def measure(seed: int, rule: str, epochs: int, threshold: float = 0.95) -> dict:
    """One seed: the baseline, the method's short and long runs, and the floor and the oracle
    at the long run's budget (test accuracies, budgets in baseline runs, minutes)."""
    base_spec = with_seed(BaselineRun(), seed)
    base = runs.baseline(base_spec)
    budget = base["steps"]  # one baseline budget: the optimizer steps the baseline took
    short = runs.fixmatch(with_seed(FixMatchRun(rule=rule, threshold=threshold), seed))
    long_spec = with_seed(FixMatchRun(rule=rule, threshold=threshold, epochs=epochs), seed)
    long = runs.fixmatch(long_spec)
    budgets = runs._all_steps(long, [base]) / budget  # counting the baseline it starts from
    floor = runs.baseline(runs.supervised_control(base_spec, budgets))
    oracle = runs.oracle(runs.oracle_at_budget(base_spec, budgets, budget))
    return {"seed": seed, "budgets": budgets, "short_budgets": runs._all_steps(short, [base]) / budget,
            "baseline": base["test_accuracy"], "short": short["test_accuracy"], "long": long["test_accuracy"],
            "floor": floor["test_accuracy"], "oracle": oracle["test_accuracy"],
            "long_pseudo_label_accuracy": long["pseudo_label_accuracy"],
            "minutes": {"long": (long["seconds"] + base["seconds"]) / 60, "floor": floor["seconds"] / 60,
                        "oracle": oracle["seconds"] / 60},
            "spec": asdict(long_spec)}


def gap_closed(reached: float, start: float, oracle: float) -> float | None:
    """The share of the gap from ``start`` to ``oracle`` that ``reached`` closes; None without a gap."""
    return (reached - start) / (oracle - start) if oracle > start else None


def summarise(rows: list[dict]) -> dict:
    """Means ± std over seeds, paired differences in points, and the gap closed (ratio of means)."""
    col = lambda key: {r["seed"]: 100 * r[key] for r in rows}
    mean = lambda key: mean_std(col(key).values())[0]
    return {"accuracy": {k: mean_std(col(k).values()) for k in ("baseline", "short", "long", "floor", "oracle")},
            "long_minus_floor": paired_difference(col("long"), col("floor")),
            "long_minus_short": paired_difference(col("long"), col("short")),
            "gap_closed_from_baseline": gap_closed(mean("long"), mean("baseline"), mean("oracle")),
            "gap_closed_from_floor": gap_closed(mean("long"), mean("floor"), mean("oracle"))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="flexmatch", choices=["fixed", "flexmatch", "freematch"])
    parser.add_argument("--threshold", type=float, default=0.95, help="the fixed threshold; FlexMatch's tau")
    parser.add_argument("--epochs", type=int, default=120, help="passes over the labelled images (notebooks: 30)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, default=config.OUTPUT_DIR / "longer_runs.json")
    args = parser.parse_args(argv)
    print(f"{args.rule}, threshold {args.threshold:g}, {args.epochs} epochs, precision {PRECISION}, "
          f"seeds {args.seeds}, quick mode {config.QUICK}")
    rows = []
    for seed in args.seeds:
        rows.append(measure(seed, args.rule, args.epochs, args.threshold))
        r = rows[-1]
        print(f"seed {seed}: baseline {r['baseline']:.2%}, {r['short_budgets']:g} budgets {r['short']:.2%}, "
              f"{r['budgets']:g} budgets {r['long']:.2%} (floor {r['floor']:.2%}, oracle {r['oracle']:.2%}), "
              f"long run {r['minutes']['long']:.1f} min", flush=True)
    s = summarise(rows)
    show = lambda pair: "{:+.2f} ± {:.2f}".format(*pair[:2])
    share = lambda value: "none (no gap)" if value is None else f"{value:.0%}"
    print("\n" + ", ".join(f"{k} {m:.2f} ± {sd:.2f}" for k, (m, sd) in s["accuracy"].items()))
    print(f"long minus floor {show(s['long_minus_floor'])} points (per seed "
          f"{' / '.join(f'{d:+.2f}' for d in s['long_minus_floor'][2])}); long minus short "
          f"{show(s['long_minus_short'])}; gap closed {share(s['gap_closed_from_baseline'])} from the baseline, "
          f"{share(s['gap_closed_from_floor'])} from the floor")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    saved = {"settings": {"rule": args.rule, "threshold": args.threshold, "epochs": args.epochs, "seeds": args.seeds,
                          "precision": PRECISION, "quick": config.QUICK}, "seeds": rows, "summary": s}
    atomic_write(args.json, lambda tmp: Path(tmp).write_text(json.dumps(saved, indent=1, default=str)))


if __name__ == "__main__":
    main()
