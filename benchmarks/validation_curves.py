"""Notebook 01's validation run on several seeds and precisions: does the validation loss turn up?

Trains the notebook's run (cell 7: 1,600 of the labelled images, 400 held out, the baseline
spec's recipe) once per seed and precision, and prints where the validation loss was lowest,
how far the last quarter's lowest value sits above it, and the standard error of a mean loss
over the validation images (from the final model's per-image losses). Notebook 01's check
allows two standard errors; an earlier check allowed 0.01, and both verdicts are printed.

    python benchmarks/validation_curves.py [--seeds 0 1 2] [--precisions bf16 fp32] [--epochs 40] [--n-val 400]
"""
from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

import helpers as h
from helpers import runs
from helpers.specs import BaselineRun


def one_run(data, seed: int, precision: str, epochs: int, n_val: int) -> dict:
    train_idx, val_idx = h.split_train_val(torch.arange(len(data.y_labeled)), data.y_labeled, n_val=n_val)
    x_val, y_val = data.x_labeled[val_idx], data.y_labeled[val_idx]
    spec = BaselineRun()
    model = h.make_model(num_classes=2, width=spec.width, seed=seed)
    history = h.fit(model, data.x_labeled[train_idx], data.y_labeled[train_idx], epochs=epochs,
                    val=(x_val, y_val), seed=seed, precision=precision, progress=False)
    per_image = F.cross_entropy(h.predict_logits(model, x_val, tta=False), y_val, reduction="none")
    val_loss = torch.tensor(history["val_loss"])
    quarter = max(1, epochs // 4)
    return {"lowest": val_loss.min().item(), "at": int(val_loss.argmin()) + 1,
            "rise": (val_loss[-quarter:].min() - val_loss.min()).item(),
            "se": per_image.std().item() / math.sqrt(len(y_val))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--precisions", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    parser.add_argument("--epochs", type=int, default=BaselineRun().epochs)
    parser.add_argument("--n-val", type=int, default=400, help="labelled images held out (notebook 01: 400)")
    args = parser.parse_args(argv)
    data = runs.data_for(BaselineRun())
    print(f"{'precision':>9} {'seed':>4} {'lowest loss':>12} {'epoch':>5} {'last quarter above it':>22} "
          f"{'standard error':>15} {'within 0.01':>11} {'within 2 SE':>11}")
    for precision in args.precisions:
        for seed in args.seeds:
            r = one_run(data, seed, precision, args.epochs, args.n_val)
            print(f"{precision:>9} {seed:>4} {r['lowest']:>12.4f} {r['at']:>5} {r['rise']:>22.4f} {r['se']:>15.4f} "
                  f"{'yes' if r['rise'] <= 0.01 else 'no':>11} {'yes' if r['rise'] <= 2 * r['se'] else 'no':>11}", flush=True)


if __name__ == "__main__":
    main()
