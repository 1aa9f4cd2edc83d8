"""Changes to a self-training round against the default run, on several seeds: what did each buy?

Each seed draws its own split and starts from its own baseline, the one `pseudo_labeling.py
--seed S` trains (``runs.baseline`` with ``seed = split_seed = S``, loaded from
``outputs/runs/`` when it is there). From it every recipe runs ``helpers.self_train`` with the
default run's settings except those the recipe names (threshold 0.9, 3 rounds of one baseline
budget in full mode, learning rate 0.1, the guard at 5 points, the baseline's weak augmentation).

Recipes are compared by the **pool gain**: the final model's accuracy on the 8,000 unlabelled
images, graded against their hidden labels, minus the baseline's - the accuracy of the
pseudo-labels the model would give next (one standard error about 0.45 points, half the test
set's). The test gain is printed beside it and is never used to choose. For each recipe: the
mean +- std of both gains and the paired difference against the default, seed by seed.

    python benchmarks/round_recipes.py [--recipes default lr0.03 ...] [--seeds 0 1 2 3 4] [--json FILE]

Every recipe's complete settings are saved with its per-seed records (default JSON:
outputs/round_recipes.json), after each recipe. A recipe run again with the same settings replaces
the records of the seeds it ran and keeps those of the others (so ``--seeds 3 4`` extends a
three-seed entry to five); with other settings it replaces the whole entry. Other recipes stay.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import helpers as h
from helpers import config, runs
from helpers.augment import strong_augment
from helpers.io import atomic_write
from helpers.methods.soft_labels import SoftMixupStep
from helpers.metrics import mean_std, paired_difference
from helpers.specs import ROUND_BUDGET, ROUNDS, BaselineRun, LabelledRoundsRun

DEFAULT = {"threshold": 0.9, "rounds": ROUNDS, "round_budget": ROUND_BUDGET, "lr": 0.1, "guard": 0.05, "augment": "weak",
           "pseudo_labels": True, "true_labels": False, "balanced": False}
RECIPES = {  # name -> the settings that differ from the default run
    "default": {},
    "labelled-only": {"pseudo_labels": False, "guard": None},  # the control: the same rounds and steps, no pool
    # the control for two budgets a round (`original_method.py --round-budget 2`): twice the steps, no pool
    "labelled-only-budget2": {"pseudo_labels": False, "guard": None, "round_budget": 2 * ROUND_BUDGET},
    "lr0.03": {"lr": 0.03},                                  # fine-tuning rather than a new warm-up to 0.1
    "threshold0.7": {"threshold": 0.7},                      # more, less accurate pseudo-labels
    "threshold0.97": {"threshold": 0.97},                    # fewer, more accurate pseudo-labels
    "threshold0.99": {"threshold": 0.99},
    "rounds5": {"rounds": ROUNDS + 2},                        # two more rounds
    "labelled-only-rounds5": {"pseudo_labels": False, "guard": None, "rounds": ROUNDS + 2},  # their control
    "strong": {"augment": "strong", "guard": None},           # a noised student (Noisy Student, arXiv 1911.04252)
    "strong-budget2": {"augment": "strong", "guard": None, "round_budget": 2 * ROUND_BUDGET},
    # An upper bound for selecting by confidence, not a method: the same rounds keep the same way (the
    # model's confidence above the threshold) but train the kept images on their true labels.
    "true-labels": {"true_labels": True},
    # As many images as the threshold keeps, shared among the predicted classes as the predictions are
    # (class-balanced self-training, Zou et al. 2018, arXiv 1810.07911): see class_balanced.
    "balanced": {"balanced": True},
    # Every round's batch, labelled and kept images alike, mixed with a partner and its label (mixup,
    # arXiv 1710.09412): with a minimum of labelled images per batch, what Arazo et al. (arXiv 1908.02983)
    # show guards a network against fitting its own wrong pseudo-labels. Hard pseudo-labels, as the
    # write-up has; see round_step.
    # Mixed images are harder to fit: the clean labelled images' accuracy falls 4 to 6 points in round 1,
    # so the guard rejects every round on four seeds of five (float32, machine C); as for the noised
    # student, the recipe runs with the guard off.
    "mixup": {"augment": "mixup", "guard": None},
    "mixup-guarded": {"augment": "mixup"},
}


def class_balanced(threshold: float):
    """A selection rule for ``self_train``: keep as many pool images as ``max_probs > threshold`` would,
    but the same share of each predicted class, the most confident ones of each (``top_per_class`` of
    notebook 13 keeps the same number of each class instead). The default's kept set leans to dogs:
    the baselines of seeds 0-4 (float32, machine C) keep 1,403-1,896 cats and 2,239-2,374 dogs above
    0.9 while they call 47.8-51.2 % of the pool cats. After class-balanced self-training (CBST, Zou
    et al. 2018, arXiv 1810.07911), whose per-class thresholds keep the top p of each class's
    predictions; CBST grows p on a schedule, here p is what the fixed threshold keeps, so the kept
    count matches the default's."""
    def select(max_probs: torch.Tensor, r: int, pseudo_labels: torch.Tensor) -> torch.Tensor:
        keep = int((max_probs > threshold).sum())
        mask = torch.zeros(len(max_probs), dtype=torch.bool)
        classes = pseudo_labels.unique().tolist()
        for c in classes:  # each its share of the count; the last class what is left, so the count is exact
            members = (pseudo_labels == c).nonzero().flatten()
            n = keep - int(mask.sum()) if c == classes[-1] else round(keep * len(members) / len(max_probs))
            mask[members[max_probs[members].argsort(descending=True)[:n]]] = True
        return mask
    return select


def round_step(augment: str, num_classes: int) -> h.TrainStep | None:
    """A round's training step for the ``augment`` setting (None: ``fit``'s default, the weak one).
    ``mixup``: notebook 07's step (weak augmentation, then each image and its target mixed with a
    partner's, a weight from Beta(1, 1) per image, as Arazo et al. use) with hard labels as targets:
    its table of targets is the identity, so a batch's labels look up their one-hot rows, and nothing
    is relabelled."""
    if augment == "mixup":
        return SoftMixupStep(torch.empty(0), torch.eye(num_classes), 0, alpha=1.0, relabel=False)
    return {"weak": None, "strong": h.SupervisedStep(strong_augment)}[augment]


def one_run(seed: int, settings: dict) -> dict:
    spec = BaselineRun(seed=seed, split_seed=seed)  # the baseline `pseudo_labeling.py --seed S` trains
    base, data = runs.baseline(spec), runs.data_for(spec)
    start, start_pool = base["model"], runs.pool_accuracy(base, data)  # the baseline's, saved with it
    step = round_step(settings["augment"], int(data.y_labeled.max()) + 1)
    started = time.perf_counter()
    if not settings["pseudo_labels"]:
        return _labelled_only(seed, settings, spec, start_pool)
    hidden = data.y_unlabeled_hidden
    true_labels = (lambda pseudo_labels, mask: torch.where(mask, hidden, pseudo_labels)) if settings.get("true_labels") else None
    result = h.self_train(data.x_labeled, data.y_labeled, data.x_unlabeled, start, threshold=settings["threshold"],
                          rounds=settings["rounds"],
                          round_steps=round(settings["round_budget"] * runs.baseline_steps(spec)),
                          lr=settings["lr"], guard=settings["guard"], step=step, test=(data.x_test, data.y_test),
                          y_unlabeled_hidden=data.y_unlabeled_hidden, precision=spec.precision, seed=seed,
                          progress=False, log=None, train_labels=true_labels,
                          selection=class_balanced(settings["threshold"]) if settings.get("balanced") else None)
    seconds = time.perf_counter() - started
    records = result.records
    return {"seed": seed, "seconds": seconds,
            "pool_accuracy": [start_pool, runs.pool_accuracy({"model": result.model}, data)],
            "test_accuracy": [records[0].test_accuracy, records[-1].test_accuracy],
            "labeled_accuracy": [r.labeled_accuracy for r in records],
            "kept": [r.n_selected for r in records[1:]],
            "kept_accuracy": [r.pseudo_label_accuracy for r in records[1:]],
            "rejected": [r.round for r in records if not r.accepted]}


def _labelled_only(seed, settings, spec, start_pool) -> dict:
    """The control, ``runs.labelled_rounds``: each round continues training the model on the labelled
    images alone, with the same steps, schedule and seeds as a round of self-training."""
    control = runs.labelled_rounds(LabelledRoundsRun(baseline=spec, rounds=settings["rounds"],
                                                     round_budget=settings["round_budget"], lr=settings["lr"]))
    records = control["records"]
    return {"seed": seed, "seconds": control["seconds"], "pool_accuracy": [start_pool, control["pool_accuracy"]],
            "test_accuracy": [records[0]["test_accuracy"], records[-1]["test_accuracy"]],
            "labeled_accuracy": [r["labeled_accuracy"] for r in records], "kept": [], "kept_accuracy": [],
            "rejected": []}


def gains(rows: list[dict], key: str) -> dict[int, float]:
    """Each seed's final accuracy minus its baseline's, in points."""
    return {r["seed"]: 100 * (r[key][1] - r[key][0]) for r in rows}


def summary(saved: dict) -> list[dict]:
    """One row per recipe: mean ± std of the pool and test gains over seeds, the paired difference
    against the default run's gain seed by seed (None for the default, or without it), rejected
    rounds, and the rounds' minutes a run."""
    rows = []
    for name, entry in saved.items():
        row = {"recipe": name, "changes": {k: v for k, v in entry["settings"].items() if DEFAULT.get(k, v) != v},
               "seeds": len(entry["seeds"]), "rejected": sum(len(r["rejected"]) for r in entry["seeds"]),
               "minutes": mean_std([r["seconds"] / 60 for r in entry["seeds"]])[0]}
        for key, label in (("pool_accuracy", "pool"), ("test_accuracy", "test")):
            mine = gains(entry["seeds"], key)
            row[label] = mean_std(mine.values())
            row[f"{label}_vs_default"] = None
            if "default" in saved and name != "default":
                row[f"{label}_vs_default"] = paired_difference(mine, gains(saved["default"]["seeds"], key))[:2]
        rows.append(row)
    return rows


def merged(entry: dict | None, settings: dict, rows: list[dict]) -> dict:
    """A recipe's saved entry after a run on ``rows``' seeds: the earlier records of other seeds stay
    when they were run with the same settings (a setting added to DEFAULT since then counts as its
    default, which is what those runs did); the entry's seeds in increasing order."""
    same = entry is not None and {**DEFAULT, **entry["settings"]} == settings
    kept = entry["seeds"] if same else []
    ran = {r["seed"] for r in rows}
    return {"settings": settings, "seeds": sorted([r for r in kept if r["seed"] not in ran] + rows,
                                                  key=lambda r: r["seed"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--json", type=Path, default=config.OUTPUT_DIR / "round_recipes.json")
    args = parser.parse_args(argv)
    precision = BaselineRun().precision
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, precision {precision}, "
          f"seeds {args.seeds}, quick mode {config.QUICK}")
    # Recipes run before (each with its settings) stay in the file; those run now replace theirs.
    saved = json.loads(args.json.read_text()) if args.json.exists() else {}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for name in args.recipes:
        settings = {**DEFAULT, **RECIPES[name]}
        rows = [one_run(seed, settings) for seed in args.seeds]
        saved[name] = merged(saved.get(name), {**settings, "precision": precision, "quick": config.QUICK}, rows)
        for r in rows:
            print(f"  {name} seed {r['seed']}: pool {r['pool_accuracy'][0]:.2%} -> {r['pool_accuracy'][1]:.2%}, "
                  f"test {r['test_accuracy'][0]:.2%} -> {r['test_accuracy'][1]:.2%}, kept {r['kept']}, "
                  f"rejected {r['rejected'] or '-'}, {r['seconds'] / 60:.1f} min", flush=True)
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(json.dumps(saved, indent=1)))  # each recipe, as it ends
    print(f"\n{'recipe':<16}{'pool gain':>14}{'vs default':>14}{'test gain':>14}{'vs default':>14}"
          f"{'rejected':>10}{'min/run':>9}")
    show = lambda pair: f"{'':>14}" if pair is None else "{:>+8.2f} ± {:.2f}".format(*pair)
    for row in summary(saved):
        print(f"{row['recipe']:<16}{show(row['pool'])}{show(row['pool_vs_default'])}{show(row['test'])}"
              f"{show(row['test_vs_default'])}{row['rejected']:>10}{row['minutes']:>9.1f}")
    print("gains in points over each seed's own baseline, mean ± std over seeds; 'vs default': the paired "
          "difference, seed by seed; minutes: the rounds only (the baselines are loaded or trained once)")


if __name__ == "__main__":
    main()
