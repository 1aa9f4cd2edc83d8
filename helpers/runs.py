"""Each later method run on the course's split, from the course's baseline, saved under
``outputs/`` and reused: what notebooks 07-10 train and the leaderboard (11) collects.

Every run returns ``test_accuracy``, ``pseudo_label_accuracy`` (how right the labels it trained
on were, graded against the hidden truth), ``seconds`` (its own training time; the baseline's
is ``baseline_model(...).train_seconds``) and ``pool_probs`` (its final model's probabilities
on the unlabelled pool), plus what its notebook plots.
"""
from __future__ import annotations

import copy
import time

import torch

from . import config
from .course import (EPOCHS, ROUND_BUDGET, WIDTH, CourseData, baseline_model, cached_run, oracle_model,
                     self_training_run)
from .methods.fixmatch import train_fixmatch
from .methods.multiple_models import agree, ensemble_proba, labels_from_others
from .methods.soft_labels import train_soft_mixup
from .methods.thresholds import (FixedThreshold, FlexMatchThreshold, FreeMatchThreshold,
                                 percentile_threshold)
from .models import make_model
from .pseudo import self_train
from .train import evaluate, fast_precision, fit, predict_proba

SOFT_EPOCHS = config.pick(10, 2)
FIXMATCH_EPOCHS = config.pick(30, 2)      # passes over the labelled images, 32 steps each
CURRICULUM_FRACTIONS = (0.5, 1.0)         # share of the pool kept in round 1, round 2
# Notebook 10's three models, seeds s, s+1, s+2: two seeds of the baseline recipe, and a third
# that sees the images through the strong augmentation (another "view", as in co-training).
TEACHER_VIEWS = ("weak", "weak", "strong")
# Optimizer steps of a retraining, in baseline runs: the seed's round budget for the
# ensemble's student, one baseline budget for each curriculum round and tri-training student.
# Quick mode cuts them to a quarter (CI time); it changes no comparison the notebooks assert.
STUDENT_BUDGET = config.pick(ROUND_BUDGET, 0.25)
RETRAIN_BUDGET = config.pick(1.0, 0.25)
# The methods here train in bfloat16 where the hardware computes it natively (a FixMatch run
# 1.5x faster on the course's CPU, its test accuracy unchanged), else in float32. The
# baseline, the oracle and the seed's self-training (notebooks 01-05) stay in float32.
PRECISION = fast_precision()


def _graded(model, data: CourseData) -> dict:
    pool_probs = predict_proba(model, data.x_unlabeled)
    return {"test_accuracy": evaluate(model, data.x_test, data.y_test), "pool_probs": pool_probs,
            "pool_accuracy": (pool_probs.argmax(1) == data.y_unlabeled_hidden).float().mean().item()}


def soft_labels(data: CourseData, alpha: float = 1.0, temperature: float = 0.5, min_labeled: int = 16,
                epochs: int = SOFT_EPOCHS, seed: int = config.SEED, progress: bool = True) -> dict:
    """Notebook 07: keep training the baseline on soft pseudo-labels (re-made every epoch,
    aligned to the labelled class balance, sharpened), ``min_labeled`` labelled images per
    batch, and mixup (``alpha`` 0: none)."""
    def compute():
        model = copy.deepcopy(baseline_model(data, seed=seed, progress=progress))
        start = time.perf_counter()
        history = train_soft_mixup(model, data.x_labeled, data.y_labeled, data.x_unlabeled,
                                   epochs=epochs, alpha=alpha, temperature=temperature,
                                   min_labeled=min_labeled, precision=PRECISION, seed=seed, progress=progress)
        seconds = time.perf_counter() - start
        graded = _graded(model, data)
        return {**graded, "seconds": seconds, "pseudo_label_accuracy": graded["pool_accuracy"],
                "soft_label_changes": history["soft_label_changes"],
                "train_loss": history["train_loss"]}, model
    return cached_run("softlabels", compute, alpha=alpha, temperature=temperature, min_labeled=min_labeled,
                      epochs=epochs, seed=seed, baseline_epochs=EPOCHS, n_labeled=len(data.y_labeled),
                      precision=PRECISION)


def fixmatch(data: CourseData, rule: str = "fixed", epochs: int = FIXMATCH_EPOCHS, mu: int = 2,
             seed: int = config.SEED, progress: bool = True) -> dict:
    """Notebooks 08-09: FixMatch warm-started from the baseline, with a fixed 0.95 threshold
    (``rule="fixed"``), FlexMatch's (``"flexmatch"``) or FreeMatch's (``"freematch"``).
    The model returned is the EMA of the weights."""
    rules = {"fixed": lambda: FixedThreshold(len(data.classes), 0.95),
             "flexmatch": lambda: FlexMatchThreshold(len(data.classes), len(data.x_unlabeled), tau=0.95),
             "freematch": lambda: FreeMatchThreshold(len(data.classes), momentum=0.999)}
    if rule not in rules:
        raise ValueError(f"rule must be one of {sorted(rules)}, not {rule!r}")

    def compute():
        model = copy.deepcopy(baseline_model(data, seed=seed, progress=progress))
        start = time.perf_counter()
        ema_model, used, _ = train_fixmatch(model, data.x_labeled, data.y_labeled, data.x_unlabeled,
                                            epochs=epochs, rule=rules[rule](), mu=mu,
                                            y_hidden=data.y_unlabeled_hidden, precision=PRECISION, seed=seed,
                                            progress=progress)
        seconds = time.perf_counter() - start
        return {**_graded(ema_model, data), "seconds": seconds,
                "test_accuracy_without_ema": evaluate(model, data.x_test, data.y_test),
                "pseudo_label_accuracy": sum(used.used_correct) / max(1, sum(used.used)),
                "used": torch.tensor(used.used), "used_correct": torch.tensor(used.used_correct),
                "unlabeled_per_step": used.batch_size, "ever_used": used.ever_used,
                "thresholds": torch.tensor(used.thresholds)}, ema_model
    return cached_run("fixmatch", compute, rule=rule, epochs=epochs, mu=mu, seed=seed,
                      baseline_epochs=EPOCHS, n_labeled=len(data.y_labeled), precision=PRECISION)


def curriculum(data: CourseData, fractions: tuple[float, ...] = CURRICULUM_FRACTIONS,
               seed: int = config.SEED, progress: bool = True) -> dict:
    """Notebook 09: Curriculum Labeling - round r keeps the ``fractions[r-1]`` most confident
    pseudo-labels, whatever their confidence, and retrains from scratch (in full mode for one
    baseline budget)."""
    def compute():
        baseline = baseline_model(data, seed=seed, progress=progress)
        thresholds: list[float] = []

        def keep_top(max_probs, r):
            thresholds.append(percentile_threshold(max_probs, fractions[r - 1]))
            return max_probs > thresholds[-1]

        result = self_train(data.x_labeled, data.y_labeled, data.x_unlabeled, rounds=len(fractions),
                            epochs=EPOCHS, round_budget=RETRAIN_BUDGET, width=WIDTH, selection=keep_top,
                            x_test=data.x_test, y_test=data.y_test, y_unlabeled_true=data.y_unlabeled_hidden,
                            baseline_model=baseline, precision=PRECISION, seed=seed, progress=progress,
                            log=None)
        records = result.to_dict()["records"]
        return {**_graded(result.model, data), "records": records, "thresholds": thresholds,
                "seconds": sum(r["seconds"] for r in records[1:]),
                "pseudo_label_accuracy": records[-1]["pseudo_label_accuracy"]}, result.model
    return cached_run("curriculum", compute, fractions=list(fractions), seed=seed, epochs=EPOCHS,
                      round_budget=RETRAIN_BUDGET, n_labeled=len(data.y_labeled), precision=PRECISION)


def teachers(data: CourseData, seed: int = config.SEED, progress: bool = True) -> list:
    """Notebook 10's three supervised models: different seeds, and one trained on strong views."""
    return [baseline_model(data, seed=seed + i, augment=view, progress=progress) for i, view in enumerate(TEACHER_VIEWS)]


def ensemble_teacher(data: CourseData, threshold: float = 0.9, seed: int = config.SEED,
                     progress: bool = True) -> dict:
    """Notebook 10: one student trained from scratch on the pseudo-labels the three teachers
    agree on, with their mean confidence above ``threshold`` (one round, the seed's budget)."""
    def compute():
        models = teachers(data, seed, progress)
        start = time.perf_counter()
        probs = [predict_proba(m, data.x_unlabeled) for m in models]
        mean = torch.stack(probs).mean(0)
        max_probs, pseudo_labels = mean.max(1)
        mask = agree(probs) & (max_probs > threshold)
        student = _student(data, mask, pseudo_labels, WIDTH, seed, STUDENT_BUDGET, progress)
        seconds = time.perf_counter() - start
        graded = _graded(student, data)
        return {**graded, "seconds": seconds, "mask": mask, "pseudo_labels": pseudo_labels,
                "pseudo_label_accuracy": _masked_accuracy(pseudo_labels, mask, data),
                "ensemble_test_accuracy": (ensemble_proba(models, data.x_test).argmax(1) == data.y_test)
                .float().mean().item()}, student
    return cached_run("ensemble", compute, threshold=threshold, seed=seed, views=list(TEACHER_VIEWS),
                      epochs=EPOCHS, round_budget=STUDENT_BUDGET, n_labeled=len(data.y_labeled),
                      precision=PRECISION)


def tri_training(data: CourseData, threshold: float = 0.9, seed: int = config.SEED,
                 progress: bool = True) -> dict:
    """Notebook 10: each of the three models is retrained from scratch on the pseudo-labels
    the *other two* agree on (mean confidence above ``threshold``), for one baseline budget;
    the answer is the three students' mean probability. Returns the first student as
    ``model`` and all three's test accuracies."""
    def compute():
        models = teachers(data, seed, progress)
        start = time.perf_counter()
        probs = [predict_proba(m, data.x_unlabeled) for m in models]
        students, masks, labels = [], [], []
        for i in range(len(models)):
            mask, pseudo_labels = labels_from_others(probs, i, threshold)
            students.append(_student(data, mask, pseudo_labels, WIDTH, seed + i, RETRAIN_BUDGET, progress))
            masks.append(mask)
            labels.append(pseudo_labels)
        seconds = time.perf_counter() - start
        ensemble_test = ensemble_proba(students, data.x_test).argmax(1)
        pool_probs = ensemble_proba(students, data.x_unlabeled)
        return {"test_accuracy": (ensemble_test == data.y_test).float().mean().item(),
                "student_test_accuracies": [evaluate(s, data.x_test, data.y_test) for s in students],
                "pool_probs": pool_probs,
                "pool_accuracy": (pool_probs.argmax(1) == data.y_unlabeled_hidden).float().mean().item(),
                "seconds": seconds, "masks": masks, "pseudo_labels": labels,
                "pseudo_label_accuracy": sum(_masked_accuracy(l, m, data) * int(m.sum()) for l, m in zip(labels, masks))
                / max(1, sum(int(m.sum()) for m in masks))}, students[0]
    return cached_run("tritraining", compute, threshold=threshold, seed=seed, views=list(TEACHER_VIEWS),
                      budget=RETRAIN_BUDGET, epochs=EPOCHS, n_labeled=len(data.y_labeled), precision=PRECISION)


def _masked_accuracy(pseudo_labels, mask, data: CourseData) -> float:
    kept = mask.nonzero().squeeze(1)
    return (pseudo_labels[kept] == data.y_unlabeled_hidden[kept]).float().mean().item() if len(kept) else float("nan")


def _student(data: CourseData, mask, pseudo_labels, width: int, seed: int, budget: float, progress: bool):
    x = torch.cat([data.x_labeled, data.x_unlabeled[mask]])
    y = torch.cat([data.y_labeled, pseudo_labels[mask]])
    epochs = max(1, round(budget * EPOCHS * len(data.x_labeled) / len(x)))
    student = make_model(len(data.classes), width, seed=seed)
    fit(student, x, y, epochs=epochs, seed=seed, precision=PRECISION, progress=progress, desc="student")
    return student


# ------------------------------------------------------------------ the leaderboard (notebook 11)
def leaderboard_rows(data: CourseData, seed: int, progress: bool = False) -> list[dict]:
    """One row per method for one seed: test accuracy, pseudo-label accuracy and wall time
    (a method that starts from the baseline counts the baseline's training time too)."""
    base = baseline_model(data, seed=seed, progress=progress)
    oracle = oracle_model(data, seed=seed, progress=progress)
    rows = [("baseline", "01", evaluate(base, data.x_test, data.y_test), None, base.train_seconds),
            ("oracle (all labels)", "01", evaluate(oracle, data.x_test, data.y_test), None, oracle.train_seconds)]
    seed_run = self_training_run(data, seed=seed, progress=progress)
    last = seed_run["records"][-1]
    rows.append(("self-training, threshold 0.9", "04", last["test_accuracy"], last["pseudo_label_accuracy"],
                 base.train_seconds + sum(r["seconds"] for r in seed_run["records"][1:])))
    from_baseline = [
        ("soft labels + mixup", "07", lambda: soft_labels(data, alpha=1.0, seed=seed, progress=progress)),
        ("FixMatch, threshold 0.95", "08", lambda: fixmatch(data, "fixed", seed=seed, progress=progress)),
        ("FlexMatch thresholds", "09", lambda: fixmatch(data, "flexmatch", seed=seed, progress=progress)),
        ("FreeMatch thresholds", "09", lambda: fixmatch(data, "freematch", seed=seed, progress=progress)),
        ("curriculum labeling", "09", lambda: curriculum(data, seed=seed, progress=progress)),
    ]
    for name, notebook, run in from_baseline:
        result = run()
        rows.append((name, notebook, result["test_accuracy"], result["pseudo_label_accuracy"],
                     base.train_seconds + result["seconds"]))
    teacher_seconds = sum(m.train_seconds for m in teachers(data, seed, progress))
    for name, run in [("ensemble teacher -> student", ensemble_teacher), ("tri-training", tri_training)]:
        result = run(data, seed=seed, progress=progress)
        rows.append((name, "10", result["test_accuracy"], result["pseudo_label_accuracy"],
                     teacher_seconds + result["seconds"]))
    keys = ("method", "notebook", "test_accuracy", "pseudo_label_accuracy", "seconds")
    return [dict(zip(keys, row), seed=seed) for row in rows]
