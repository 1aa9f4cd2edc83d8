"""Pseudo-labeling from the command line: supervised baseline, then rounds of self-training.

The original method's four steps: (1) train on the labelled images; (2) predict the
unlabelled ones (softmax -> max probability -> argmax); (3) keep those with
max_probs > threshold; (4) continue training the model on labelled + kept images - and repeat.

Edit the defaults in the config block below, or override any of them on the command line
(`python pseudo_labeling.py --help`). Training logs go to the console; the final model, a
metrics JSON and two plots go to the output folder (``outputs/`` by default).
Set PSEUDO_QUICK=1 for a short run (fewer epochs and rounds, same data and split).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from helpers import config, specs

# ---------------------------------------------------------------- config block
DATA_PATH = None            # None: data/cifar10-catdog, ../shared/data, or download CIFAR-10
N_LABELED = 2000            # labelled training images (equal per class); the rest are unlabelled
THRESHOLD = 0.9             # keep a pseudo-label when its max softmax probability is above this
ROUNDS = specs.ROUNDS       # rounds of predict -> select -> continue training
EPOCHS = specs.BASELINE_EPOCHS  # epochs of the supervised baseline
ROUND_BUDGET = specs.ROUND_BUDGET  # a round's optimizer steps, in multiples of the baseline's
FROM_SCRATCH = False        # False: continue training the model (the write-up); True: a fresh one
GUARD = 0.05                # reject a round whose labelled accuracy falls by more than this
WIDTH = 16                  # channels of the CNN's first stage (then 2x and 4x)
PRECISION = specs.PRECISION # "bf16" where the hardware computes it natively, else "fp32"
SEED = config.SEED          # the same seed gives the same split and the same numbers
OUTPUT_DIR = config.OUTPUT_DIR
# ------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=DATA_PATH, help="ImageFolder with train/ and test/, or CIFAR-10's python batches")
    p.add_argument("--n-labeled", type=int, default=N_LABELED, help="number of labelled training images")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="confidence threshold in [0, 1)")
    p.add_argument("--rounds", type=int, default=ROUNDS, help="self-training rounds after the baseline")
    p.add_argument("--epochs", type=int, default=EPOCHS, help="epochs of the supervised baseline")
    p.add_argument("--round-budget", type=float, default=ROUND_BUDGET,
                   help="optimizer steps of each round, in multiples of the baseline's")
    p.add_argument("--from-scratch", action="store_true", default=FROM_SCRATCH,
                   help="train a fresh model each round instead of continuing the last one")
    p.add_argument("--guard", type=float, default=GUARD,
                   help="keep the previous model when a round's labelled accuracy falls by more than this (-1: off)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default=PRECISION, help="training precision")
    p.add_argument("--width", type=int, default=WIDTH, help="CNN width (channels of the first stage)")
    p.add_argument("--seed", type=int, default=SEED, help="random seed for the split and training")
    p.add_argument("--output", type=Path, default=OUTPUT_DIR, help="folder for the model, metrics and plots")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p.parse_args(argv)


def validate(args: argparse.Namespace) -> None:
    """Check every argument before any work, so bad input costs nothing and overwrites nothing."""
    from helpers import select_confident
    from helpers.io import check_writable_dir
    import torch

    select_confident(torch.zeros(0), args.threshold)
    if args.rounds < 0:
        raise ValueError(f"--rounds must be 0 or more, not {args.rounds}")
    if not args.round_budget > 0:
        raise ValueError(f"--round-budget must be above 0, not {args.round_budget}")
    for name in ("epochs", "width", "n_labeled"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be 1 or more, not {getattr(args, name)}")
    if args.data is not None and not Path(args.data).expanduser().is_dir():
        raise FileNotFoundError(f"--data {args.data} is not a folder; point it at a folder with "
                                "train/<class>/ and test/<class>/ image subfolders")
    check_writable_dir(args.output)


def run(args: argparse.Namespace) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import helpers as h
    from helpers import plots
    from helpers.metrics import accuracy
    from helpers.results import save_results

    started = time.perf_counter()
    data = h.load_cats_dogs(args.data)
    split = h.split_labeled_unlabeled(data.y_train, args.n_labeled, args.seed)
    print(f"data: {data.source}\nsplit: {len(split.labeled)} labelled, {len(split.unlabeled)} unlabelled, "
          f"{len(data.y_test)} test images; device: {h.get_device()}; quick mode: {config.QUICK}")
    x_unlabeled = data.x_train[split.unlabeled]
    y_unlabeled_hidden = data.y_train[split.unlabeled]  # grades pseudo-labels only; never trained on
    x_labeled, y_labeled = data.x_train[split.labeled], data.y_train[split.labeled]

    # Step 1: train on the labelled images.
    start = time.perf_counter()
    model = h.make_model(len(data.classes), args.width, seed=args.seed)
    history = h.fit(model, x_labeled, y_labeled, epochs=args.epochs, precision=args.precision, seed=args.seed,
                    progress=not args.no_progress, desc="baseline")
    baseline_seconds = time.perf_counter() - start
    print(f"baseline: {args.epochs} epochs in {baseline_seconds:.0f} s (loss {history['train_loss'][0]:.3f} -> "
          f"{history['train_loss'][-1]:.3f})")
    # Steps 2-4, each round: predict the unlabelled pool, keep max_probs > threshold, continue training.
    result = h.self_train(
        x_labeled, y_labeled, x_unlabeled, model, threshold=args.threshold, rounds=args.rounds,
        round_steps=round(args.round_budget * args.epochs * math.ceil(len(y_labeled) / 128)),
        from_scratch=args.from_scratch, guard=None if args.guard < 0 else args.guard,
        test=(data.x_test, data.y_test), y_unlabeled_hidden=y_unlabeled_hidden, precision=args.precision,
        seed=args.seed, progress=not args.no_progress)
    result.records[0].seconds, result.records[0].history = baseline_seconds, history

    out = Path(args.output)
    run_config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "no_progress"}
    run_config["quick"] = config.QUICK
    h.save_checkpoint(result.model, out / "final_model.pt", config=run_config,
                      test_accuracy=result.records[-1].test_accuracy)
    metrics = {**result.to_dict(), "total_seconds": time.perf_counter() - started, "classes": list(data.classes)}
    save_results(out / "metrics.json", metrics, run_config)

    # Confidence of the last model on the unlabelled pool, split by right and wrong.
    probs = h.predict_proba(result.model, x_unlabeled)
    max_probs, pseudo_labels = h.pseudo_label(probs)
    ax = plots.confidence_histogram(max_probs, pseudo_labels == y_unlabeled_hidden, threshold=args.threshold,
                                    title="Confidence of the final model on the unlabelled pool")
    plots.save_figure(ax.figure, out / "confidence_histogram.png")
    accs = [r.test_accuracy for r in result.records]  # a rejected round keeps the previous model's
    ax = plots.accuracy_vs_rounds({f"self-training, threshold {args.threshold:g}": accs}, baseline=accs[0],
                                  n_test=len(data.y_test),
                                  title=f"Accuracy against rounds (seed {args.seed}; bars: one standard error)")
    plots.save_figure(ax.figure, out / "accuracy_vs_rounds.png")
    print(f"final test accuracy {accs[-1]:.4f} (baseline {accs[0]:.4f}, "
          f"{100 * (accs[-1] - accs[0]):+.1f} points); pseudo-label accuracy of the final model "
          f"{accuracy(pseudo_labels, y_unlabeled_hidden):.4f}; {metrics['total_seconds']:.0f} s in all")
    print(f"saved final_model.pt, metrics.json, confidence_histogram.png, accuracy_vs_rounds.png in {out}")
    return metrics


def main(argv=None) -> int:
    args = parse_args(argv)
    from helpers import CheckpointError, DataError

    try:
        validate(args)
        run(args)
    except (DataError, CheckpointError, ValueError, OSError) as err:
        message = " ".join(str(err).split())  # one line
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
