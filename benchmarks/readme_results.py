"""Write the README's results table from a full run's saved results (never by hand).

Reads outputs/metrics.json (written by `python pseudo_labeling.py`) and, for the oracle,
outputs/01_baseline.json (written by notebook 01). Prints the table; with --write, replaces the
block between the results markers in README.md.

    python benchmarks/readme_results.py [--write]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from helpers import config

START, END = "<!-- results:start -->", "<!-- results:end -->"


def table(metrics: dict, notebook_01: dict | None) -> str:
    cfg, res = metrics["config"], metrics["results"]
    if cfg.get("quick"):
        sys.exit("error: outputs/metrics.json comes from a quick-mode run; run pseudo_labeling.py without PSEUDO_QUICK")
    rows = ["| run | training images | pseudo-labels kept (accuracy) | test accuracy | time |", "|---|---:|---:|---:|---:|"]
    for r in res["records"]:
        name = "baseline (2,000 labels)" if r["round"] == 0 else f"round {r['round']}, threshold {res['threshold']:g}"
        kept = "–" if r["round"] == 0 else f"{r['n_selected']:,} ({r['pseudo_label_accuracy']:.1%})"
        rows.append(f"| {name} | {r['n_train']:,} | {kept} | {r['test_accuracy']:.1%} | {r['seconds']:.0f} s |")
    if notebook_01 is not None:
        rows.append(f"| oracle (all 10,000 true labels, notebook 01) | 10,000 | – | {notebook_01['oracle_accuracy']:.1%} | – |")
    gain = res["records"][-1]["test_accuracy"] - res["records"][0]["test_accuracy"]
    rows.append("")
    rows.append(f"Gain of the final round over the baseline: {100 * gain:+.1f} points; whole run "
                f"{res['total_seconds'] / 60:.1f} min (seed {cfg['seed']}, {cfg['epochs']} baseline epochs, "
                f"{cfg['rounds']} rounds).")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    out = Path(config.OUTPUT_DIR)
    metrics = json.loads((out / "metrics.json").read_text())
    nb01 = out / "01_baseline.json"
    notebook_01 = json.loads(nb01.read_text())["results"] if nb01.exists() else None
    text = table(metrics, notebook_01)
    print(text)
    if args.write:
        readme = config.PROJECT_ROOT / "README.md"
        body = readme.read_text()
        if START not in body or END not in body:
            sys.exit(f"error: README.md has no {START} ... {END} block")
        body = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", body, flags=re.S)
        readme.write_text(body)


if __name__ == "__main__":
    main()
