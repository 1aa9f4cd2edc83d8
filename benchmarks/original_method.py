"""The default `pseudo_labeling.py` run on several seeds: does each end above its own baseline?

Runs the script's own `main()` once per seed (each seed draws its own split and trains its own
baseline), in full mode unless PSEUDO_QUICK=1, and prints one row per seed: baseline, each
round, final, gain, rejected rounds, minutes. Then the mean +- std of the gains.
Extra arguments go to the script, e.g. `--round-budget 2 --from-scratch`.

    python benchmarks/original_method.py [--seeds 0 1 2 3 4] [--json FILE] [script options]

Saves every seed's records to outputs/original_method.json (or FILE), which
`benchmarks/readme_results.py` turns into the README's table.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import pseudo_labeling  # noqa: E402
from helpers import config  # noqa: E402


def one_seed(seed: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as out:
        with contextlib.redirect_stdout(io.StringIO()):
            code = pseudo_labeling.main(["--seed", str(seed), "--output", out, "--no-progress", *extra])
        if code != 0:
            sys.exit(f"error: pseudo_labeling.py failed on seed {seed} (exit {code})")
        saved = json.loads((Path(out) / "metrics.json").read_text())
    return {"seed": seed, "config": saved["config"], **saved["results"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--json", type=Path, default=config.OUTPUT_DIR / "original_method.json",
                        help="where to save every seed's records (the README's table reads them)")
    args, extra = parser.parse_known_args(argv)
    runs = []
    print("seed | baseline | rounds (test accuracy) | final | gain | rejected | minutes")
    for seed in args.seeds:
        run = one_seed(seed, extra)
        accs = [r["test_accuracy"] for r in run["records"]]
        rejected = [r["round"] for r in run["records"] if not r.get("accepted", True)]
        run["gain"] = accs[-1] - accs[0]
        runs.append(run)
        print(f"{seed:4d} | {accs[0]:.2%} | {' '.join(f'{a:.2%}' for a in accs[1:])} | {accs[-1]:.2%} | "
              f"{100 * run['gain']:+.2f} | {rejected or '-'} | {run['total_seconds'] / 60:.1f}", flush=True)
    gains = [100 * r["gain"] for r in runs]
    spread = statistics.stdev(gains) if len(gains) > 1 else float("nan")
    print(f"gain over each seed's own baseline: mean {statistics.mean(gains):+.2f} ± {spread:.2f} points "
          f"(std over {len(gains)} seeds); above the baseline on {sum(g > 0 for g in gains)} of {len(gains)}; "
          f"{statistics.mean(r['total_seconds'] for r in runs) / 60:.1f} min a run")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
