"""Write the README's results tables from full runs' saved results (never by hand).

Reads outputs/metrics.json (written by `python pseudo_labeling.py`) and, for the oracle,
outputs/01_baseline.json (written by notebook 01): the default run's table. Reads
outputs/leaderboard.json (written by notebook 11): the leaderboard. Reads the five-seed runs of
`benchmarks/original_method.py` named in SEED_BLOCKS: one table each, and
outputs/round_recipes.json (`benchmarks/round_recipes.py`): the changes to a round. Prints every
table whose file exists; with --write, replaces the blocks between their markers in README.md.

    python benchmarks/readme_results.py [--write]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.round_recipes import summary as recipes_summary  # noqa: E402
from helpers import config  # noqa: E402
from helpers.metrics import mean_std  # noqa: E402

START, END = "<!-- results:start -->", "<!-- results:end -->"
BOARD_START, BOARD_END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"
RECIPES_START, RECIPES_END = "<!-- recipes:start -->", "<!-- recipes:end -->"
# benchmarks/original_method.py's saved runs -> the README block each fills, and the runs it
# is compared with seed by seed (or None).
SEED_BLOCKS = (
    ("original_method.json", "seeds", None),
    ("original_method_bf16.json", "seeds-bf16", None),
    ("original_method_bf16_budget2.json", "seeds-bf16-budget2", "original_method_bf16.json"),
)


def table(metrics: dict, notebook_01: dict | None) -> str:
    cfg, res = metrics["config"], metrics["results"]
    if cfg.get("quick"):
        sys.exit("error: outputs/metrics.json comes from a quick-mode run; run pseudo_labeling.py without PSEUDO_QUICK")
    rows = ["| run | training images | pseudo-labels kept (accuracy) | test accuracy | time |", "|---|---:|---:|---:|---:|"]
    for r in res["records"]:
        name = "baseline (2,000 labels)" if r["round"] == 0 else f"round {r['round']}, threshold {res['threshold']:g}"
        if not r.get("accepted", True):  # the guard kept the previous model: its test accuracy is shown
            name += " (rejected by the guard)"
        kept = "–" if r["round"] == 0 else f"{r['n_selected']:,} ({r['pseudo_label_accuracy']:.1%})"
        rows.append(f"| {name} | {r['n_train']:,} | {kept} | {r['test_accuracy']:.1%} | {r['seconds']:.0f} s |")
    if notebook_01 is not None:
        if notebook_01["config"].get("quick"):
            sys.exit("error: outputs/01_baseline.json comes from a quick-mode run; run notebook 01 without PSEUDO_QUICK")
        notebook_01 = notebook_01["results"]
        rows.append(f"| oracle (all 10,000 true labels, notebook 01) | 10,000 | – | {notebook_01['oracle_accuracy']:.1%} | – |")
    gain = res["records"][-1]["test_accuracy"] - res["records"][0]["test_accuracy"]
    rows.append("")
    rows.append(f"Gain of the final round over the baseline: {100 * gain:+.1f} points; whole run "
                f"{res['total_seconds'] / 60:.1f} min (seed {cfg['seed']}, {cfg['epochs']} baseline epochs, "
                f"{cfg['rounds']} rounds).")
    return "\n".join(rows)


def leaderboard(saved: dict) -> str:
    """Notebook 11's summary: one row per method, ranked by mean test accuracy, each method also
    against the baseline trained on its labelled images alone for the method's own budget."""
    cfg, summary = saved["config"], saved["results"]["summary"]
    if cfg.get("quick"):
        sys.exit("error: outputs/leaderboard.json comes from a quick-mode run; run notebook 11 without PSEUDO_QUICK")
    per_seed: dict[str, dict[int, float]] = {}
    for r in saved["results"]["rows"]:
        per_seed.setdefault(r["method"], {})[r["seed"]] = r["test_accuracy"]
    rows = ["| method | notebook | test accuracy (mean ± std) | vs own baseline (points) | vs supervised, same steps "
            "(points) | per seed | pool accuracy | budgets | time |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in sorted(summary, key=lambda s: -s["test_accuracy"]):
        pool = "–" if s["pool_accuracy"] is None else f"{s['pool_accuracy']:.1%}"
        seeds = " / ".join(f"{100 * a:.1f}" for _, a in sorted(per_seed[s["method"]].items()))
        same_steps = ("–" if s.get("supervised_gain") is None else
                      f"{100 * s['supervised_gain']:+.2f} ± {100 * s['supervised_gain_std']:.2f}")
        rows.append(f"| {s['method']} | {s['notebook']} | {s['test_accuracy']:.1%} ± {s['test_accuracy_std']:.1%} "
                    f"| {100 * s['paired_gain']:+.2f} ± {100 * s['paired_gain_std']:.2f} | {same_steps} | {seeds} "
                    f"| {pool} | {s['budgets']:.1f} | {s['seconds']:.0f} s |")
    precisions = sorted({s["precision"] for s in summary})
    rows.append("")
    rows.append(f"Seeds {', '.join(map(str, cfg['seeds']))} on one split; {cfg['n_labeled']:,} labels; "
                f"{', '.join(precisions)} for every row. *vs own baseline*: each seed's test accuracy minus that "
                f"seed's baseline's (mean ± std over seeds). *vs supervised, same steps*: minus that seed's baseline "
                f"trained on the labelled images alone for the method's budget (to the nearest quarter), the fair "
                f"floor. *Pool accuracy*: the final model's argmax on the 8,000 "
                f"unlabelled images against their hidden labels. *Budgets*: optimizer steps, counting the supervised "
                f"runs a method starts from, in units of one baseline run. Times include those runs (2 CPU cores).")
    return "\n".join(rows)


def seeds_table(runs: list[dict]) -> str:
    """The default script on several seeds (benchmarks/original_method.py): one row per seed."""
    if any(r["config"].get("quick") for r in runs):
        sys.exit("error: outputs/original_method.json comes from a quick-mode run; run the benchmark without PSEUDO_QUICK")
    n_rounds = max(len(r["records"]) - 1 for r in runs)
    rows = ["| seed | baseline | " + " | ".join(f"round {i}" for i in range(1, n_rounds + 1))
            + " | gain | rounds rejected | time |", "|---:|---:|" + "---:|" * n_rounds + "---:|---:|---:|"]
    gains = []
    for r in runs:
        accs = [rec["test_accuracy"] for rec in r["records"]]
        rejected = [str(rec["round"]) for rec in r["records"][1:] if not rec.get("accepted", True)]
        gains.append(100 * (accs[-1] - accs[0]))
        rounds = [f"{a:.1%}" for a in accs[1:]] + ["–"] * (n_rounds - len(accs) + 1)
        rows.append(f"| {r['seed']} | {accs[0]:.1%} | " + " | ".join(rounds)
                    + f" | {gains[-1]:+.2f} | {', '.join(rejected) or 'none'} | {r['total_seconds'] / 60:.1f} min |")
    mean, std = mean_std(gains)
    cfg = runs[0]["config"]
    rows.append("")
    rows.append(f"Gain over each seed's own baseline (each seed draws its own split): mean {mean:+.2f} ± "
                f"{std:.2f} points over {len(gains)} seeds, above the baseline on {sum(g > 0 for g in gains)} "
                f"of {len(gains)}; threshold {cfg['threshold']:g}, {cfg['rounds']} rounds of "
                f"{cfg['round_budget']:g} baseline budget{'' if cfg['round_budget'] == 1 else 's'} each, {'from scratch' if cfg['from_scratch'] else 'continued training'}, "
                f"{cfg['precision']}.")
    return "\n".join(rows)


def paired_line(runs: list[dict], reference: list[dict]) -> str:
    """Each seed's gain minus the same seed's gain in ``reference`` (same seed: same split and
    baseline), mean ± std over the seeds both hold, and how much longer the runs took."""
    def gain(r):
        return 100 * (r["records"][-1]["test_accuracy"] - r["records"][0]["test_accuracy"])

    def budgets(r):
        b = r["config"]["round_budget"]
        return f"{b:g} budget{'' if b == 1 else 's'} a round"

    before = {r["seed"]: r for r in reference}
    both = [r for r in runs if r["seed"] in before]
    if not both:
        sys.exit("error: the two five-seed files share no seed")
    diffs = [gain(r) - gain(before[r["seed"]]) for r in both]
    mean, std = mean_std(diffs)
    time_ratio = sum(r["total_seconds"] for r in both) / sum(before[r["seed"]]["total_seconds"] for r in both)
    return (f"{budgets(both[0])} minus {budgets(reference[0])}, seed by seed: {mean:+.2f} ± {std:.2f} points "
            f"over {len(diffs)} seeds ({' / '.join(f'{d:+.2f}' for d in diffs)}), for {time_ratio:.1f} times the time.")


def recipes_table(saved: dict) -> str:
    """benchmarks/round_recipes.py: one row per change to a round, against the default run."""
    if any(entry["settings"].get("quick") for entry in saved.values()):
        sys.exit("error: outputs/round_recipes.json comes from a quick-mode run; run the benchmark without PSEUDO_QUICK")
    show = lambda pair: "–" if pair is None else f"{pair[0]:+.2f} ± {pair[1]:.2f}"
    rows = ["| recipe | what changes | pool gain | minus the default's | test gain | minus the default's "
            "| rounds rejected | minutes a run |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in recipes_summary(saved):
        changes = ", ".join(f"{k} {'off' if v in (None, False) else v}" for k, v in row["changes"].items()) or "–"
        rows.append(f"| {row['recipe']} | {changes} | {show(row['pool'])} | {show(row['pool_vs_default'])} | "
                    f"{show(row['test'])} | {show(row['test_vs_default'])} | {row['rejected']} | {row['minutes']:.1f} |")
    first = next(iter(saved.values()))
    rows.append("")
    rows.append(f"Gains in points over each seed's own baseline, mean ± std over {len(first['seeds'])} seeds "
                f"({', '.join(str(r['seed']) for r in first['seeds'])}); 'minus the default's': each seed's gain "
                f"minus the default recipe's on the same seed; minutes: the rounds only; {first['settings']['precision']}.")
    return "\n".join(rows)


def _replace(body: str, start: str, end: str, text: str) -> str:
    if start not in body or end not in body:
        sys.exit(f"error: README.md has no {start} ... {end} block")
    return re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{text}\n{end}", body, flags=re.S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    out = Path(config.OUTPUT_DIR)
    metrics_file, nb01 = out / "metrics.json", out / "01_baseline.json"
    notebook_01 = json.loads(nb01.read_text()) if nb01.exists() else None
    text = table(json.loads(metrics_file.read_text()), notebook_01) if metrics_file.exists() else None
    if text is None:
        print(f"{metrics_file.name}: not found (python pseudo_labeling.py writes it); its table is left as it is")
    else:
        print(text)
    board_file = out / "leaderboard.json"
    board = leaderboard(json.loads(board_file.read_text())) if board_file.exists() else None
    if board is not None:
        print()
        print(board)
    recipes_file = out / "round_recipes.json"
    recipes = recipes_table(json.loads(recipes_file.read_text())) if recipes_file.exists() else None
    if recipes is not None:
        print(f"\n{recipes_file.name}:\n{recipes}")
    seed_blocks = {}
    for name, block, reference in SEED_BLOCKS:
        if not (out / name).exists():
            continue
        runs = json.loads((out / name).read_text())
        seed_blocks[block] = seeds_table(runs)
        if reference is not None and (out / reference).exists():
            seed_blocks[block] += "\n\n" + paired_line(runs, json.loads((out / reference).read_text()))
        print(f"\n{name}:\n{seed_blocks[block]}")
    if args.write:
        readme = config.PROJECT_ROOT / "README.md"
        body = readme.read_text()
        if text is not None:
            body = _replace(body, START, END, text)
        if board is not None:
            body = _replace(body, BOARD_START, BOARD_END, board)
        if recipes is not None:
            body = _replace(body, RECIPES_START, RECIPES_END, recipes)
        for block, table_text in seed_blocks.items():
            body = _replace(body, f"<!-- {block}:start -->", f"<!-- {block}:end -->", table_text)
        readme.write_text(body)


if __name__ == "__main__":
    main()
