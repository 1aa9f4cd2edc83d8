"""Pseudo-labeling from the command line: supervised baseline, then rounds of self-training.

The original method's four steps: (1) train on the labelled images; (2) predict the
unlabelled ones (softmax -> max probability -> argmax); (3) keep those with
max_probs > threshold; (4) continue training the model on labelled + kept images - and repeat.

Three ways to call it:

    python pseudo_labeling.py [options]
        The course's cats and dogs (--data: an ImageFolder with train/ and test/, or CIFAR-10's
        python batches). The final model, a metrics JSON and two plots go to outputs/.
    python pseudo_labeling.py --labeled DIR --unlabeled DIR [--test DIR] [--image-size N] [options]
        Your own images: DIR/<class>/ holds the labelled ones (two classes or more), the other
        folder the unlabelled ones (subfolders allowed). Without --test, 10 % of each class is
        held out as a validation split (not a test set). Writes final_model.pt,
        pseudo_labels.csv (path, pseudo_label, confidence, selected, first_selected_round),
        metrics.json, the two plots and log.txt to outputs/own_data/; a folder that holds a
        previous run is refused unless --overwrite.
    python pseudo_labeling.py predict --model outputs/own_data/final_model.pt --images DIR
            [--output FILE] [--threshold T]
        Labels a folder with a saved model and writes the same CSV columns; there are no rounds,
        so first_selected_round is 0 for an image above the threshold and -1 otherwise.

Edit the defaults in the config block below, or override any of them on the command line
(`python pseudo_labeling.py --help`, `python pseudo_labeling.py predict --help`). Training logs
go to the console. Set PSEUDO_QUICK=1 for a short run (fewer epochs and rounds; the same labelled
images, predicted and graded on 2,000 unlabelled and 1,000 test images).
Bad input stops the run with one line starting with "error:" and exit code 2, before any output
is written.

On several GPUs (or CPU processes), start a training run with torchrun, e.g.
`torchrun --standalone --nproc_per_node=4 pseudo_labeling.py --labeled DIR --unlabeled DIR`: every
batch is split between the processes (the same steps and schedule as one process) and the
unlabelled pool's prediction too; only rank 0 prints and writes the outputs (helpers/distributed.py).
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
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
CONTROL = False             # True: also train the same rounds on the labelled images alone (the control)
WIDTH = 16                  # channels of the CNN's first stage (then 2x and 4x)
PRECISION = specs.PRECISION # "bf16" where the hardware computes it natively, else "fp32"
SEED = config.SEED          # the same seed gives the same split and the same numbers
OUTPUT_DIR = config.OUTPUT_DIR
IMAGE_SIZE = 32             # your own images are resized (centre crop) to this many pixels a side
OWN_OUTPUT_DIR = OUTPUT_DIR / "own_data"
# ------------------------------------------------------------------------------
OWN_FLAGS = ("labeled", "unlabeled", "test", "image_size", "skip_corrupt", "overwrite")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                epilog="To label a folder with a saved model: python pseudo_labeling.py predict --help")
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
    p.add_argument("--control", action="store_true", default=CONTROL,
                   help="also train the same rounds from the baseline on the labelled images alone, no pseudo-label: "
                        "the pseudo-labels helped only where self-training beats this (the rounds take twice as long)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default=PRECISION, help="training precision")
    p.add_argument("--width", type=int, default=WIDTH, help="CNN width (channels of the first stage)")
    p.add_argument("--seed", type=int, default=SEED, help="random seed for the split and training")
    p.add_argument("--output", type=Path, default=None,
                   help=f"folder for the model, metrics and plots; if not given: {OUTPUT_DIR}, "
                        f"or {OWN_OUTPUT_DIR} with --labeled")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    own = p.add_argument_group("your own images, instead of --data (then --n-labeled is not used)")
    own.add_argument("--labeled", type=Path, help="folder with one subfolder of images per class (2 or more)")
    own.add_argument("--unlabeled", type=Path, help="folder of images without labels; subfolders are fine")
    own.add_argument("--test", type=Path, help="test folder laid out like --labeled; without it, 10%% of each "
                     "labelled class is held out as a validation split")
    own.add_argument("--image-size", type=int, default=IMAGE_SIZE, help="pixels a side the images are resized to (8-256)")
    own.add_argument("--skip-corrupt", action="store_true", help="leave out images that cannot be decoded")
    own.add_argument("--overwrite", action="store_true", help="replace a previous run in the output folder")
    return p.parse_args(argv)


def parse_predict_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="pseudo_labeling.py predict",
                                description="Label a folder of images with a model saved by a training run.")
    p.add_argument("--model", type=Path, required=True, help="a final_model.pt written by pseudo_labeling.py")
    p.add_argument("--images", type=Path, required=True, help="folder of images (subfolders are fine)")
    p.add_argument("--output", type=Path, help="CSV to write (default: predictions.csv beside the model)")
    p.add_argument("--threshold", type=float, help="confidence threshold for `selected` (default: the run's)")
    p.add_argument("--skip-corrupt", action="store_true", help="leave out images that cannot be decoded")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output CSV")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def validate(args: argparse.Namespace) -> None:
    """Check every argument before any work, so bad input costs nothing and overwrites nothing."""
    from helpers import select_confident
    from helpers.io import check_writable_dir
    from helpers.own_data import MAX_SIZE, MIN_SIZE, check_unused_output
    import torch

    select_confident(torch.zeros(0), args.threshold)
    if args.rounds < 0:
        raise ValueError(f"--rounds must be 0 or more, not {args.rounds}")
    if not args.round_budget > 0:
        raise ValueError(f"--round-budget must be above 0, not {args.round_budget}")
    for name in ("epochs", "width", "n_labeled"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be 1 or more, not {getattr(args, name)}")
    if not MIN_SIZE <= args.image_size <= MAX_SIZE:
        raise ValueError(f"--image-size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {args.image_size}; "
                         "32 is the course's size, 64-128 show more detail and train slower")
    own = args.labeled or args.unlabeled or args.test
    if own and args.data is not None:
        raise ValueError("--data cannot be combined with --labeled/--unlabeled/--test; use one layout or the other")
    if own and not (args.labeled and args.unlabeled):
        raise ValueError("--labeled and --unlabeled go together: pass both (and --test if you have a test folder)")
    if not own and args.image_size != IMAGE_SIZE:
        raise ValueError("--image-size is for your own images (--labeled/--unlabeled); the course's data is 32 px")
    folders = [(f"--{k}", getattr(args, k)) for k in ("labeled", "unlabeled", "test")] + [("--data", args.data)]
    for flag, folder in folders:
        if folder is not None and not Path(folder).expanduser().is_dir():
            hint = ("train/<class>/ and test/<class>/ image subfolders" if flag == "--data" else
                    "images" if flag == "--unlabeled" else "one subfolder of images per class")
            raise FileNotFoundError(f"{flag} {folder} is not a folder; point it at a folder with {hint}")
    args.output = Path(args.output or (OWN_OUTPUT_DIR if own else OUTPUT_DIR))
    check_writable_dir(args.output)
    if own:
        check_unused_output(args.output, args.overwrite)


def train_rounds(args: argparse.Namespace, x_labeled, y_labeled, x_unlabeled, num_classes: int,
                 test, y_unlabeled_hidden, log=print):
    """Steps 1-4: the supervised baseline, then the rounds of self-training; with ``--control``, the
    same rounds on the labelled images alone too. ``test`` scores each round. Returns the
    self-training result and the control's (None without ``--control``)."""
    import helpers as h

    # Step 1: train on the labelled images.
    start = time.perf_counter()
    model = h.make_model(num_classes, args.width, seed=args.seed)
    history = h.fit(model, x_labeled, y_labeled, epochs=args.epochs, precision=args.precision, seed=args.seed,
                    progress=not args.no_progress, desc="baseline")
    baseline_seconds = time.perf_counter() - start
    log(f"baseline: {args.epochs} epochs in {baseline_seconds:.0f} s (loss {history['train_loss'][0]:.3f} -> "
        f"{history['train_loss'][-1]:.3f})")
    # Steps 2-4, each round: predict the unlabelled pool, keep max_probs > threshold, continue training.
    round_steps = round(args.round_budget * args.epochs * math.ceil(len(y_labeled) / 128))
    result = h.self_train(
        x_labeled, y_labeled, x_unlabeled, model, threshold=args.threshold, rounds=args.rounds,
        round_steps=round_steps, from_scratch=args.from_scratch, guard=None if args.guard < 0 else args.guard,
        test=test, y_unlabeled_hidden=y_unlabeled_hidden, precision=args.precision,
        seed=args.seed, progress=not args.no_progress, log=log)
    result.records[0].seconds, result.records[0].history = baseline_seconds, history
    control = None
    if args.control:  # the same rounds, steps and seeds from the same baseline, without the pseudo-labels
        control = h.control_rounds(x_labeled, y_labeled, model, rounds=args.rounds, round_steps=round_steps,
                                   test=test, precision=args.precision, seed=args.seed,
                                   progress=not args.no_progress, log=log)
        with_pl, without = result.records[-1].test_accuracy, control.records[-1].test_accuracy
        log(f"control: the same rounds on the labelled images alone end at test accuracy {without:.4f}; "
            f"self-training minus control: {100 * (with_pl - without):+.1f} points (one run's standard error "
            f"is about {100 * h.metrics.standard_error(with_pl, len(test[1])):.1f}; compare several seeds)")
    return result, control


def control_metrics(control) -> dict:
    """The control's records for metrics.json (no threshold: it keeps no pseudo-label)."""
    return {"records": control.to_dict()["records"]}


def run_config(args: argparse.Namespace, own: bool) -> dict:
    """The settings saved with the results: only those of the layout that was used."""
    skip = {"no_progress", "overwrite"} | ({"data", "n_labeled"} if own else set(OWN_FLAGS))
    saved = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in skip}
    return {**saved, "quick": config.QUICK}


def run(args: argparse.Namespace) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import helpers as h
    from helpers import distributed, plots
    from helpers.metrics import accuracy
    from helpers.results import save_results

    started = time.perf_counter()
    with distributed.main_first():  # under torchrun rank 0 decodes and caches, the others read the cache
        data = h.load_cats_dogs(args.data)
    # quick mode predicts and grades on part of the pool and of the test set (helpers.config)
    split = h.split_course(data, args.n_labeled, args.seed, config.POOL_IMAGES, config.TEST_IMAGES)
    print(f"data: {data.source}\nsplit: {len(split.y_labeled)} labelled, {len(split.y_unlabeled_hidden)} unlabelled, "
          f"{len(split.y_test)} test images; device: {h.get_device()}{distributed.describe()}; "
          f"quick mode: {config.QUICK}")
    x_unlabeled = split.x_unlabeled
    y_unlabeled_hidden = split.y_unlabeled_hidden  # grades pseudo-labels only; never trained on
    x_labeled, y_labeled, x_test, y_test = split.x_labeled, split.y_labeled, split.x_test, split.y_test
    result, control = train_rounds(args, x_labeled, y_labeled, x_unlabeled, len(data.classes),
                                   (x_test, y_test), y_unlabeled_hidden)
    probs = h.predict_proba(result.model, x_unlabeled)  # by every process: under torchrun each predicts a slice
    if not distributed.is_main():
        return {}

    out = Path(args.output)
    saved_config = run_config(args, own=False)
    h.save_checkpoint(result.model, out / "final_model.pt", config=saved_config,
                      test_accuracy=result.records[-1].test_accuracy, classes=list(data.classes), image_size=32)
    metrics = {**result.to_dict(), "total_seconds": time.perf_counter() - started, "classes": list(data.classes)}
    if control is not None:
        metrics["control"] = control_metrics(control)
    save_results(out / "metrics.json", metrics, saved_config)

    # Confidence of the last model on the unlabelled pool, split by right and wrong.
    max_probs, pseudo_labels = h.pseudo_label(probs)
    ax = plots.confidence_histogram(max_probs, pseudo_labels == y_unlabeled_hidden, threshold=args.threshold,
                                    title="Confidence of the final model on the unlabelled pool")
    plots.save_figure(ax.figure, out / "confidence_histogram.png")
    accs = [r.test_accuracy for r in result.records]  # a rejected round keeps the previous model's
    series = {f"self-training, threshold {args.threshold:g}": accs}
    if control is not None:
        series["the same rounds, labelled images only (control)"] = [r.test_accuracy for r in control.records]
    ax = plots.accuracy_vs_rounds(series, baseline=accs[0],
                                  n_test=len(y_test),
                                  title=f"Accuracy against rounds (seed {args.seed}; bars: one standard error)")
    plots.save_figure(ax.figure, out / "accuracy_vs_rounds.png")
    print(f"final test accuracy {accs[-1]:.4f} (baseline {accs[0]:.4f}, "
          f"{100 * (accs[-1] - accs[0]):+.1f} points); pseudo-label accuracy of the final model "
          f"{accuracy(pseudo_labels, y_unlabeled_hidden):.4f}; {metrics['total_seconds']:.0f} s in all")
    print(f"saved final_model.pt, metrics.json, confidence_histogram.png, accuracy_vs_rounds.png in {out}")
    return metrics


class Log:
    """The console log, kept for log.txt: notes to stdout, warnings to stderr, both in the copy."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(message)
        print(message, flush=True)

    def warn(self, message: str) -> None:
        from helpers import distributed

        self.lines.append(f"warning: {message}")
        if distributed.is_main():  # stdout is silenced on the other ranks, stderr is not
            print(self.lines[-1], file=sys.stderr, flush=True)

    def left_out(self, root, n_not_images: int, corrupt: list[str]) -> None:
        """Say what a folder's loading skipped: not an error, but the counts should not surprise."""
        if n_not_images:
            self(f"skipped {n_not_images} file(s) that are not images in {root}")
        if corrupt:
            self(f"skipped {len(corrupt)} corrupt image(s) in {root} (--skip-corrupt): "
                 + ", ".join(corrupt[:5]) + (" ..." if len(corrupt) > 5 else ""))


def load_own_data(args: argparse.Namespace, log: Log):
    """Decode the folders (after checking that they fit in memory together) and choose what
    scores each round: the --test folder, or a held-out part of the labelled images."""
    from helpers import distributed, own_data

    flags = ["labeled", "unlabeled"] + (["test"] if args.test else [])
    listings = [own_data.list_folder(getattr(args, f), labeled=f != "unlabeled", what=f"--{f}") for f in flags]
    if args.test:
        own_data.check_same_classes(listings[0], listings[2])
    own_data.check_memory(listings, args.image_size)
    with distributed.main_first():  # under torchrun rank 0 decodes and caches, the others read the cache
        folders = [own_data.load_folder(listing, args.image_size, skip_corrupt=args.skip_corrupt,
                                        progress=not args.no_progress) for listing in listings]
    for folder in folders:
        log.left_out(folder.root, folder.n_not_images, folder.corrupt)
    labeled, unlabeled, test = folders[0], folders[1], (folders[2] if args.test else None)
    copies = own_data.duplicates(labeled, unlabeled)
    if copies:
        log.warn(f"{len(copies)} unlabelled image(s) have the same bytes as labelled ones ({', '.join(copies[:3])}"
                 f"{' ...' if len(copies) > 3 else ''}); they add nothing, consider removing them from --unlabeled")
    if test is not None:
        x, y, evaluation = labeled.x, labeled.y, (test.x, test.y)
        scored_on = f"the --test set ({len(test.y)} images)"
    else:
        train, val = own_data.holdout_split(labeled.y, labeled.classes, args.seed)
        x, y, evaluation = labeled.x[train], labeled.y[train], (labeled.x[val], labeled.y[val])
        scored_on = (f"a held-out validation split ({len(val)} of the {len(labeled.y)} labelled images, "
                     f"{own_data.VAL_FRACTION:.0%} of each class; not a test set: pass --test for one)")
    return labeled, unlabeled, x, y, evaluation, scored_on


def run_own(args: argparse.Namespace) -> dict:
    """Your own folders: the same method, a CSV of pseudo-labels, every file staged and then moved
    into the output folder together, so an interrupted run leaves the previous one whole."""
    import matplotlib
    matplotlib.use("Agg")
    import helpers as h
    from helpers.io import atomic_write
    from helpers import distributed, own_data, plots
    from helpers.results import save_results

    started, log = time.perf_counter(), Log()
    labeled, unlabeled, x_labeled, y_labeled, evaluation, scored_on = load_own_data(args, log)
    classes, held_out = list(labeled.classes), args.test is None
    log(f"data: {len(classes)} classes ({', '.join(classes)}), {len(y_labeled)} labelled images to train on, "
        f"{len(unlabeled.paths)} unlabelled, at {args.image_size} px; device: {h.get_device()}{distributed.describe()}")
    log(f"each round is scored on {scored_on}; the unlabelled images have no labels, "
        "so pseudo-label accuracy is n/a")
    # self_train calls its score "test accuracy"; on a held-out split that would claim too much.
    round_log = (lambda line: log(line.replace("test accuracy", "validation accuracy"))) if held_out else log
    result, control = train_rounds(args, x_labeled, y_labeled, unlabeled.x, len(classes), evaluation, None, round_log)

    probs = h.predict_proba(result.model, unlabeled.x)
    max_probs, _ = h.pseudo_label(probs)
    first = own_data.first_selected_round(result.masks, [r.accepted for r in result.records[1:]], len(probs))
    score = "validation_accuracy" if held_out else "test_accuracy"
    metrics = {**result.to_dict(), "evaluated_on": scored_on, "classes": classes, "n_unlabeled": len(probs),
               "n_selected_final": int(h.select_confident(max_probs, args.threshold).sum())}
    if control is not None:
        metrics["control"] = control_metrics(control)
    for record in metrics["records"] + metrics.get("control", {}).get("records", []):
        record[score] = record.pop("test_accuracy")
    accs = [r.test_accuracy for r in result.records]  # a rejected round keeps the previous model's
    name = "validation" if held_out else "test"
    log(f"final {name} accuracy {accs[-1]:.4f} (baseline {accs[0]:.4f}, {100 * (accs[-1] - accs[0]):+.1f} points); "
        f"{metrics['n_selected_final']} of {len(probs)} unlabelled images above the threshold {args.threshold:g}; "
        f"pseudo-label accuracy n/a (no labels); {time.perf_counter() - started:.0f} s in all")
    metrics["total_seconds"] = time.perf_counter() - started
    if not distributed.is_main():
        return metrics

    saved_config = run_config(args, own=True)
    with own_data.staged_outputs(args.output) as stage:
        h.save_checkpoint(result.model, stage / "final_model.pt", config=saved_config, classes=classes,
                          image_size=args.image_size, evaluated_on=scored_on, **{score: accs[-1]})
        own_data.write_csv(stage / "pseudo_labels.csv",
                           own_data.csv_rows(unlabeled.paths, probs, classes, args.threshold, first))
        save_results(stage / "metrics.json", metrics, saved_config)
        ax = plots.confidence_histogram(max_probs, None, threshold=args.threshold, low=1 / len(classes),
                                        title="Confidence of the final model on the unlabelled images")
        plots.save_figure(ax.figure, stage / "confidence_histogram.png")
        series = {f"self-training, threshold {args.threshold:g}": accs}
        if control is not None:
            series["the same rounds, labelled images only (control)"] = [r.test_accuracy for r in control.records]
        ax = plots.accuracy_vs_rounds(series, n_test=len(evaluation[1]),
                                      ylabel=f"{name} accuracy", title=f"Accuracy against rounds (seed {args.seed}; "
                                      "bars: one standard error)")
        plots.save_figure(ax.figure, stage / "accuracy_vs_rounds.png")
        log(f"saved final_model.pt, pseudo_labels.csv, metrics.json, confidence_histogram.png, "
            f"accuracy_vs_rounds.png, log.txt in {args.output}")
        atomic_write(stage / "log.txt", lambda tmp: tmp.write_text("\n".join(log.lines) + "\n"))
    return metrics


def predict(args: argparse.Namespace) -> None:
    """Label a folder with a saved model: the columns of pseudo_labels.csv, no training.

    The images are decoded and predicted a chunk at a time and their rows streamed to the CSV
    (``own_data.decode_chunks``), so a folder of any size takes the memory of two chunks, not of
    the folder; nothing is cached, since a folder is labelled once. The CSV appears only whole.
    """
    import torch
    from tqdm.auto import tqdm
    from helpers import DataError, load_checkpoint, own_data, predict_proba, select_confident
    from helpers.io import check_writable_dir

    model, meta = load_checkpoint(args.model)  # torch.load(weights_only=True) inside
    classes = meta.get("classes") or [str(c) for c in range(model.arch["num_classes"])]
    threshold = args.threshold if args.threshold is not None else meta.get("config", {}).get("threshold", THRESHOLD)
    select_confident(torch.zeros(0), threshold)
    out = Path(args.output or Path(args.model).parent / "predictions.csv")
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it, or another --output")
    check_writable_dir(out.parent)
    log = Log()
    listing, size = own_data.list_folder(args.images, labeled=False, what="--images"), int(meta.get("image_size", 32))
    corrupt, counts = [], {"images": 0, "selected": 0}

    def rows():
        with tqdm(total=len(listing.files), desc="labelling", unit="image", disable=args.no_progress, delay=1,
                  leave=False) as bar:
            for chunk in own_data.decode_chunks(listing, size):
                corrupt.extend(chunk["corrupt"])
                if corrupt and not args.skip_corrupt:  # stop at the first chunk with one: no CSV is written
                    raise own_data.corrupt_error(corrupt, "--images", listing.root)
                if chunk["paths"]:
                    probs = predict_proba(model, chunk["x"])
                    counts["images"] += len(probs)
                    counts["selected"] += int(select_confident(probs.max(dim=1).values, threshold).sum())
                    yield from own_data.csv_rows(chunk["paths"], probs, classes, threshold)
                bar.update(len(chunk["paths"]) + len(chunk["corrupt"]))
        if not counts["images"]:
            raise DataError(f"none of the images in --images {listing.root} can be decoded; check that they are images")

    own_data.write_csv(out, rows())
    log.left_out(listing.root, listing.n_not_images, corrupt)
    log(f"labelled {counts['images']} images of {listing.root}: {counts['selected']} above the threshold "
        f"{threshold:g}; wrote {out}")


def train(args: argparse.Namespace) -> dict:
    """A training run, in this process alone or, under torchrun, as one of several: the others
    train and predict with it but print nothing (stdout goes to /dev/null) and write no file."""
    from helpers import distributed

    several = distributed.init()
    quiet = several and not distributed.is_main()
    args.no_progress = args.no_progress or quiet
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull if quiet else sys.stdout):
            return (run_own if args.labeled else run)(args)
    finally:
        distributed.close()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    from helpers import CheckpointError, DataError, distributed

    try:
        if argv[:1] == ["predict"]:  # a subcommand, checked by hand so the original parser stays as it was
            if distributed.requested():
                raise ValueError("predict runs in one process; start it with python, not torchrun")
            predict(parse_predict_args(argv[1:]))
        else:
            args = parse_args(argv)
            validate(args)
            train(args)
    except (DataError, CheckpointError, ValueError, OSError) as err:
        message = " ".join(str(err).split())  # one line
        if distributed.is_main():  # under torchrun every process meets the same bad input: one line is enough
            print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
