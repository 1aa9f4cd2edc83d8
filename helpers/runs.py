"""Every run of the course, from its spec: what the notebooks train and the leaderboard collects.

``runs.run(spec)`` (or the function named after the run's kind) goes down the layers once:
the runs it starts from (a baseline, a committee) are fetched first, then
``cache.get_or_run(spec, ...)`` loads this run or trains it with ``helpers.train`` and
``helpers.methods``. Nothing below reaches back up into the cache.

Every method run returns ``test_accuracy``, ``pseudo_label_accuracy`` (how right the
pseudo-labels it trained on were, graded against the hidden truth: see ``PSEUDO_LABEL_ACCURACY``),
``seconds`` (its own training time), ``pool_probs`` (its final model's probabilities on the
unlabelled pool), ``model`` and ``spec``, plus what its notebook plots.
"""
from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch
import torch.nn as nn

from .augment import strong_augment, weak_augment
from .cache import get_or_run
from .course import CourseData, course_data
from .data import split_train_val
from .methods.cotraining import co_train, feature_proba, fit_feature_classifier, view_features
from .methods.domain import adapt_batchnorm, shift_domain
from .methods.fixmatch import train_fixmatch
from .methods.generative import ConditionalVAE, sample, train_cvae
from .methods.multiple_models import agree, ensemble_proba, labels_from_others
from .methods.soft_labels import SoftMixupStep, train_soft_mixup
from .methods.thresholds import FixedThreshold, FlexMatchThreshold, FreeMatchThreshold, percentile_threshold
from .metrics import accuracy, mean_std, paired_difference
from .models import make_model
from .pseudo import control_rounds, pseudo_label, self_train
from .specs import (BaselineRun, with_seed, CoTrainingRun, CurriculumRun, DomainShiftRun, EnsembleRun, FixMatchRun,
                    GenerativeRun, LabelledRoundsRun,
                    OracleRun, SelfTrainingRun, SoftLabelsRun, TriTrainingRun, RETRY_SEED_STRIDE, TEACHER_SEED_STRIDE,
                    teacher_specs)
from .train import SupervisedStep, evaluate, fit, predict_proba

PSEUDO_LABEL_ACCURACY = ("share of the pseudo-labels a method trained on that match the hidden truth, "
                         "counted once per image and round (FixMatch-style: once per use in a step)")


def data_for(spec) -> CourseData:
    base = spec if isinstance(spec, BaselineRun) else spec.baseline
    return course_data(base.n_labeled, base.split_seed, base.n_unlabeled, base.n_test)


def _graded(model: nn.Module, data: CourseData) -> dict:
    pool_probs = predict_proba(model, data.x_unlabeled)
    return {"test_accuracy": evaluate(model, data.x_test, data.y_test), "pool_probs": pool_probs,
            "pool_accuracy": accuracy(pool_probs.argmax(1), data.y_unlabeled_hidden)}


def baseline_steps(spec: BaselineRun) -> int:
    """One baseline budget: the optimizer steps of the supervised baseline."""
    return spec.epochs * math.ceil((spec.n_labeled - spec.holdout) / spec.batch_size)


# ------------------------------------------------------------------ supervised: baseline, oracle
def _supervised(spec: BaselineRun, data: CourseData) -> tuple[dict, nn.Module]:
    if isinstance(spec, OracleRun):
        x, y = torch.cat([data.x_labeled, data.x_unlabeled]), torch.cat([data.y_labeled, data.y_unlabeled_hidden])
    elif spec.holdout:
        train_idx, _ = split_train_val(torch.arange(len(data.y_labeled)), data.y_labeled, spec.holdout, spec.seed)
        x, y = data.x_labeled[train_idx], data.y_labeled[train_idx]
    else:
        x, y = data.x_labeled, data.y_labeled
    augment = {"weak": weak_augment, "strong": strong_augment}[spec.augment]
    if spec.mixup_alpha > 0:  # mixup needs probability targets: one-hot rows, looked up by index
        step = SoftMixupStep(x, torch.nn.functional.one_hot(y, len(data.classes)).float(), len(x),
                             alpha=spec.mixup_alpha, relabel=False, augment=augment)
        y = torch.arange(len(x))
    else:
        step = SupervisedStep(augment)
    model = make_model(len(data.classes), spec.width, seed=spec.seed)
    history = fit(model, x, y, epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr,
                  weight_decay=spec.weight_decay, step=step, precision=spec.precision, seed=spec.seed,
                  desc=type(spec).__name__.removesuffix("Run").lower())
    return {"test_accuracy": evaluate(model, data.x_test, data.y_test), "history": history,
            "steps": history["steps"][-1]}, model


def baseline(spec: BaselineRun = BaselineRun()) -> dict:
    """The supervised baseline (or, with an ``OracleRun``, the all-labels oracle)."""
    if spec.augment not in ("weak", "strong"):
        raise ValueError(f"augment must be 'weak' or 'strong', not {spec.augment!r}")
    return get_or_run(spec, lambda: _supervised(spec, data_for(spec)))


def oracle(spec: OracleRun = OracleRun()) -> dict:
    return baseline(spec)


# ------------------------------------------------------------------ the original method
def _self_train(spec, data: CourseData, start: nn.Module, **options) -> tuple[dict, nn.Module]:
    result = self_train(data.x_labeled, data.y_labeled, data.x_unlabeled, start,
                        rounds=len(spec.fractions) if isinstance(spec, CurriculumRun) else spec.rounds,
                        round_steps=round(spec.round_budget * baseline_steps(spec.baseline)),
                        from_scratch=spec.from_scratch, lr=spec.lr, guard=spec.guard, test=(data.x_test, data.y_test),
                        y_unlabeled_hidden=data.y_unlabeled_hidden, precision=spec.precision,
                        seed=spec.baseline.seed, **options)
    records = result.to_dict()["records"]
    return {**_graded(result.model, data), "records": records,
            "seconds": sum(r["seconds"] for r in records[1:]),
            "masks": result.masks, "pseudo_labels": [pseudo_label(p)[1] for p in result.probs],
            "max_probs": [pseudo_label(p)[0] for p in result.probs],
            "steps": sum(r["history"]["steps"][-1] for r in records[1:]),
            "pseudo_label_accuracy": _mean_kept_accuracy(records)}, result.model


def self_training(spec: SelfTrainingRun = SelfTrainingRun()) -> dict:
    """The original method from the course's baseline: rounds of threshold -> train."""
    start = baseline(spec.baseline)["model"]
    return get_or_run(spec, lambda: _self_train(spec, data_for(spec), start, threshold=spec.threshold))


def labelled_rounds(spec: LabelledRoundsRun = LabelledRoundsRun()) -> dict:
    """Self-training's control (``helpers.control_rounds``): its rounds from the same
    baseline, with the same steps and seeds, on the labelled images alone, so that the only
    difference from ``self_training`` is the pseudo-labels."""
    start = baseline(spec.baseline)["model"]

    def compute():
        data = data_for(spec)
        result = control_rounds(data.x_labeled, data.y_labeled, start, rounds=spec.rounds,
                                round_steps=round(spec.round_budget * baseline_steps(spec.baseline)),
                                lr=spec.lr, test=(data.x_test, data.y_test), precision=spec.precision,
                                seed=spec.baseline.seed, log=None)
        records = [{"round": r.round, "test_accuracy": r.test_accuracy, "labeled_accuracy": r.labeled_accuracy}
                   for r in result.records]
        steps = sum(r.history["steps"][-1] for r in result.records[1:])
        return {**_graded(result.model, data), "records": records, "steps": steps}, result.model
    return get_or_run(spec, compute)


def curriculum(spec: CurriculumRun = CurriculumRun()) -> dict:
    """Curriculum Labeling (notebook 09): round r keeps the ``fractions[r-1]`` most confident
    pseudo-labels, whatever their confidence."""
    start = baseline(spec.baseline)["model"]
    thresholds: list[float] = []

    def keep_top(max_probs, r, pseudo_labels):  # whatever their class
        thresholds.append(percentile_threshold(max_probs, spec.fractions[r - 1]))
        return max_probs > thresholds[-1]

    def compute():
        results, model = _self_train(spec, data_for(spec), start, selection=keep_top, log=None)
        return {**results, "thresholds": thresholds}, model
    return get_or_run(spec, compute)


def _mean_kept_accuracy(records: list[dict]) -> float:
    """Pseudo-label accuracy over every round, weighted by the labels each round kept."""
    kept = [(r["pseudo_label_accuracy"], r["n_selected"]) for r in records[1:] if r["pseudo_label_accuracy"] is not None]
    return sum(a * n for a, n in kept) / max(1, sum(n for _, n in kept)) if kept else float("nan")


# ------------------------------------------------------------------ notebooks 07-09
def soft_labels(spec: SoftLabelsRun = SoftLabelsRun()) -> dict:
    """Notebook 07: keep training the baseline on soft pseudo-labels (re-made every epoch,
    aligned, sharpened), ``min_labeled`` labelled images per batch, and mixup."""
    start = baseline(spec.baseline)["model"]

    def compute():
        data, model = data_for(spec), copy.deepcopy(start)
        history = train_soft_mixup(model, data.x_labeled, data.y_labeled, data.x_unlabeled, epochs=spec.epochs,
                                   alpha=spec.alpha, temperature=spec.temperature, align=spec.align,
                                   min_labeled=spec.min_labeled, batch_size=spec.batch_size, lr=spec.lr,
                                   precision=spec.precision, seed=spec.baseline.seed)
        graded = _graded(model, data)
        return {**graded, "pseudo_label_accuracy": graded["pool_accuracy"], "history": history,
                "steps": history["steps"][-1],
                "soft_label_changes": history["soft_label_changes"], "train_loss": history["train_loss"]}, model
    return get_or_run(spec, compute)


def threshold_rule(spec: FixMatchRun, num_classes: int, n_unlabeled: int):
    rules = {"fixed": lambda: FixedThreshold(num_classes, spec.threshold),
             "flexmatch": lambda: FlexMatchThreshold(num_classes, n_unlabeled, spec.threshold, spec.flexmatch_warmup),
             "freematch": lambda: FreeMatchThreshold(num_classes, spec.freematch_momentum)}
    if spec.rule not in rules:
        raise ValueError(f"rule must be one of {sorted(rules)}, not {spec.rule!r}")
    return rules[spec.rule]()


def fixmatch(spec: FixMatchRun = FixMatchRun()) -> dict:
    """Notebooks 08-09: FixMatch from the baseline, with a fixed, FlexMatch or FreeMatch
    threshold. The model returned is the EMA of the weights."""
    data = data_for(spec)
    rule = threshold_rule(spec, len(data.classes), len(data.x_unlabeled))  # a bad rule fails before training
    start = baseline(spec.baseline)["model"]

    def compute():
        model = copy.deepcopy(start)
        ema_model, step, history = train_fixmatch(
            model, data.x_labeled, data.y_labeled, data.x_unlabeled, epochs=spec.epochs, rule=rule, mu=spec.mu,
            batch_size=spec.batch_size, lr=spec.lr, ema_decay=spec.ema_decay, weight=spec.unlabeled_weight,
            y_unlabeled_hidden=data.y_unlabeled_hidden, precision=spec.precision, seed=spec.baseline.seed)
        return {**_graded(ema_model, data), "history": history, "steps": history["steps"][-1],
                "test_accuracy_without_ema": evaluate(model, data.x_test, data.y_test),
                "pseudo_label_accuracy": sum(step.used_correct) / max(1, sum(step.used)),
                "used": torch.tensor(step.used), "used_correct": torch.tensor(step.used_correct),
                "unlabeled_per_step": step.batch_size, "ever_used": step.ever_used,
                "thresholds": torch.tensor(step.thresholds)}, ema_model
    return get_or_run(spec, compute)


# ------------------------------------------------------------------ notebook 10: a committee
def teachers(spec: EnsembleRun | TriTrainingRun = EnsembleRun()) -> list[dict]:
    """The committee's three supervised runs (different seeds, one on strong views)."""
    return [baseline(s) for s in teacher_specs(spec)]


def _student(data: CourseData, mask, pseudo_labels, spec, seed: int, reference: float,
             fallback: nn.Module) -> tuple[nn.Module, int, list]:
    """A fresh model trained on labelled + kept pseudo-labelled images; returns it, its steps and
    its attempts. The guard of self-training's rounds: a student whose accuracy on the labelled
    images falls more than ``spec.guard`` below ``reference`` (the baseline's) failed to train; the log says so
    and it is retrained from another initialisation, up to ``spec.retries`` times. If every
    attempt fails, the previous model (``fallback``: the model the student was to replace) is
    kept, as self-training's guard keeps the previous round's. The steps count every attempt."""
    x = torch.cat([data.x_labeled, data.x_unlabeled[mask]])
    y = torch.cat([data.y_labeled, pseudo_labels[mask]])
    steps = round(spec.student_budget * baseline_steps(spec.baseline))
    attempts, total_steps = [], 0
    for attempt in range(getattr(spec, "retries", 0) + 1):
        init = seed + RETRY_SEED_STRIDE * attempt
        student = make_model(len(data.classes), spec.baseline.width, seed=init)
        history = fit(student, x, y, epochs=max(1, round(steps / math.ceil(len(x) / 128))), lr=spec.lr, seed=init,
                      precision=spec.precision, desc="student")
        total_steps += history["steps"][-1]
        labeled_acc = evaluate(student, data.x_labeled, data.y_labeled)
        guard = getattr(spec, "guard", None)  # tri-training's students have none (helpers.specs)
        accepted = guard is None or labeled_acc >= reference - guard
        attempts.append({"seed": init, "labeled_accuracy": labeled_acc, "accepted": accepted})
        if accepted:
            return student, total_steps, attempts
        print(f"student (seed {init}) rejected by the guard: labelled accuracy {labeled_acc:.4f}, more than "
              f"{guard} below the baseline's {reference:.4f}"
              + ("; retraining from another initialisation" if attempt < spec.retries else
                 "; every attempt failed, keeping the previous model"))
    return fallback, total_steps, attempts


def ensemble(spec: EnsembleRun = EnsembleRun()) -> dict:
    """Notebook 10: a student trained from scratch on the pseudo-labels the three teachers
    agree on, their mean confidence above ``threshold``; guarded like self-training's rounds
    (``_student``): a student that fails to train is retrained, and never replaces the baseline."""
    models = [t["model"] for t in teachers(spec)]

    def compute():
        data = data_for(spec)
        probs = [predict_proba(m, data.x_unlabeled) for m in models]
        max_probs, pseudo_labels = torch.stack(probs).mean(0).max(1)
        mask = agree(probs) & (max_probs > spec.threshold)
        reference = evaluate(models[0], data.x_labeled, data.y_labeled)  # the baseline's
        student, steps, attempts = _student(data, mask, pseudo_labels, spec, spec.baseline.seed, reference, models[0])
        return {**_graded(student, data), "steps": steps, "attempts": attempts, "mask": mask,
                "pseudo_labels": pseudo_labels,
                "pseudo_label_accuracy": accuracy(pseudo_labels[mask], data.y_unlabeled_hidden[mask]),
                "ensemble_test_accuracy": accuracy(ensemble_proba(models, data.x_test).argmax(1), data.y_test)}, student
    return get_or_run(spec, compute)


def tri_training(spec: TriTrainingRun = TriTrainingRun()) -> dict:
    """Notebook 10: each of the three models retrained from scratch on the pseudo-labels the
    *other two* agree on; the answer is the three students' mean probability. Returns the
    first student as ``model`` and all three's test accuracies."""
    models = [t["model"] for t in teachers(spec)]

    def compute():
        data = data_for(spec)
        probs = [predict_proba(m, data.x_unlabeled) for m in models]
        masks, labels = zip(*(labels_from_others(probs, i, spec.threshold) for i in range(len(models))))
        reference = evaluate(models[0], data.x_labeled, data.y_labeled)  # the baseline's
        trained = [_student(data, m, l, spec, spec.baseline.seed + TEACHER_SEED_STRIDE * i, reference, models[i])
                   for i, (m, l) in enumerate(zip(masks, labels))]
        students = [student for student, _, _ in trained]
        pool_probs = ensemble_proba(students, data.x_unlabeled)
        kept = torch.cat([l[m] for l, m in zip(labels, masks)])
        truth = torch.cat([data.y_unlabeled_hidden[m] for m in masks])
        return {"test_accuracy": accuracy(ensemble_proba(students, data.x_test).argmax(1), data.y_test),
                "student_test_accuracies": [evaluate(s, data.x_test, data.y_test) for s in students],
                "pool_probs": pool_probs, "pool_accuracy": accuracy(pool_probs.argmax(1), data.y_unlabeled_hidden),
                "masks": list(masks), "pseudo_labels": list(labels), "steps": sum(n for _, n, _ in trained),
                "attempts": [a for _, _, a in trained],
                "pseudo_label_accuracy": accuracy(kept, truth)}, students[0]
    return get_or_run(spec, compute)


# ------------------------------------------------------------------ notebook 13: domains and views
def target_domain(spec: DomainShiftRun) -> tuple[torch.Tensor, torch.Tensor]:
    """The target domain's unlabelled pool and test images (the course's, shifted)."""
    data = data_for(spec)
    shift = lambda x: shift_domain(x, spec.shift_size, spec.shift_sigma)
    return shift(data.x_unlabeled), shift(data.x_test)


def domain_shift(spec: DomainShiftRun = DomainShiftRun()) -> dict:
    """Notebook 13: the baseline (with ``adabn``, its batch-norm statistics re-estimated on the
    target pool) graded on the target's and the source's test images (``start_target_accuracy``,
    ``start_test_accuracy``), then ``rounds`` of self-training on the target pool (labelled
    source images + kept target pseudo-labels), graded again. Without ``pseudo_labels``, the
    control: the same rounds, steps and seeds on the labelled source images alone. With
    ``adabn`` the statistics are re-estimated on the target pool after training too, since
    training batches mix both domains. ``target_accuracy``: the final model on the target's
    test images; ``test_accuracy``: on the source's."""
    start = baseline(spec.baseline)["model"]

    def compute():
        data, (pool, test) = data_for(spec), target_domain(spec)
        model = adapt_batchnorm(start, pool) if spec.adabn else start
        start_test_accuracy = evaluate(model, data.x_test, data.y_test)  # on the source's test images
        start_target_pred = predict_proba(model, test).argmax(1)
        round_steps = round(spec.round_budget * baseline_steps(spec.baseline))
        if spec.pseudo_labels:
            result = self_train(data.x_labeled, data.y_labeled, pool, model, threshold=spec.threshold,
                                rounds=spec.rounds, round_steps=round_steps, lr=spec.lr, test=(test, data.y_test),
                                y_unlabeled_hidden=data.y_unlabeled_hidden, precision=spec.precision,
                                seed=spec.baseline.seed, log=None)
        else:
            result = control_rounds(data.x_labeled, data.y_labeled, model, rounds=spec.rounds, round_steps=round_steps,
                                    lr=spec.lr, test=(test, data.y_test), precision=spec.precision,
                                    seed=spec.baseline.seed, log=None)
        records = result.to_dict()["records"]
        final = adapt_batchnorm(result.model, pool) if spec.adabn and spec.rounds else result.model
        target_pred = predict_proba(final, test).argmax(1)  # per image, for McNemar's test in notebook 13
        return {"start_target_accuracy": records[0]["test_accuracy"], "start_test_accuracy": start_test_accuracy,
                "records": records,
                "target_accuracy_before_adabn": records[-1]["test_accuracy"],
                "target_accuracy": accuracy(target_pred, data.y_test),
                "start_target_pred": start_target_pred, "target_pred": target_pred,
                "test_accuracy": evaluate(final, data.x_test, data.y_test),
                "steps": sum(r["history"]["steps"][-1] for r in records[1:]),
                "pseudo_label_accuracy": _mean_kept_accuracy(records)}, final
    return get_or_run(spec, compute)


def co_training(spec: CoTrainingRun = CoTrainingRun()) -> dict:
    """Notebook 13: co-training (``teacher="other"``) or its control (``"self"``) from the
    baseline CNN and a linear classifier on the second view (``helpers.methods.cotraining``)."""
    start = baseline(spec.baseline)["model"]

    def compute():
        data = data_for(spec)
        hidden = data.y_unlabeled_hidden
        grade = lambda view, mask, labels: {"accuracy": accuracy(labels[mask], hidden[mask])}
        cnn, linear, records = co_train(
            data.x_labeled, data.y_labeled, data.x_unlabeled, start, rounds=spec.rounds, per_class=spec.per_class,
            round_steps=round(spec.round_budget * baseline_steps(spec.baseline)), teacher=spec.teacher,
            lr=spec.lr, precision=spec.precision, seed=spec.baseline.seed, grade=grade)
        features_test = view_features(data.x_test)
        alone = fit_feature_classifier(view_features(data.x_labeled), data.y_labeled, len(data.classes))
        features_test_pred = feature_proba(linear, features_test).argmax(1)
        return {**_graded(cnn, data), "records": records, "steps": sum(r["steps"] for r in records),
                "test_pred": predict_proba(cnn, data.x_test).argmax(1), "features_test_pred": features_test_pred,
                "features_test_accuracy": accuracy(features_test_pred, data.y_test),
                "features_alone_test_accuracy": accuracy(feature_proba(alone, features_test).argmax(1), data.y_test),
                "features_pool_probs": feature_proba(linear, view_features(data.x_unlabeled))}, cnn
    return get_or_run(spec, compute)


# ------------------------------------------------------------------ notebook 14: generated images
def generator(result: dict) -> ConditionalVAE:
    """The conditional VAE a ``GenerativeRun`` trained, rebuilt from its saved weights (eval mode)."""
    spec = result["spec"]
    vae = ConditionalVAE(result["num_classes"], spec.latent, spec.width, result["image_size"])
    vae.load_state_dict(result["generator"])
    return vae.eval()


def asked_classes(result: dict) -> torch.Tensor:
    """The class each of the run's generated images was asked for: ``n_per_class`` of each, in order."""
    return torch.arange(result["num_classes"]).repeat_interleave(result["spec"].n_per_class)


def generated_images(result: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's generated images and the class each was asked for (drawn again: sampling is
    seeded, so these are the images the run labelled)."""
    spec, asked = result["spec"], asked_classes(result)
    return sample(generator(result), asked, seed=spec.baseline.seed, temperature=spec.temperature), asked


def generative(spec: GenerativeRun = GenerativeRun()) -> dict:
    """Notebook 14: the baseline continues training for one round on the labelled images plus
    the generated images it labels above the threshold (``helpers.pseudo.self_train`` with the
    generated images as its pool); with ``n_per_class=0``, on the labelled images alone.
    ``pseudo_label_accuracy`` here is the share of kept images whose label is the class the
    generator was asked for (generated images have no true label). With ``labels="asked"`` the
    samples of the same spec's ``labels="classifier"`` run (the same VAE, trained once) all join,
    each with the class it was asked for."""
    if spec.labels not in ("classifier", "asked"):
        raise ValueError(f"labels must be 'classifier' or 'asked', not {spec.labels!r}")
    start = baseline(spec.baseline)["model"]
    source = generative(replace(spec, labels="classifier")) if spec.labels == "asked" and spec.n_per_class else None

    def compute():
        data, seed = data_for(spec), spec.baseline.seed
        steps = round(spec.round_budget * baseline_steps(spec.baseline))
        num_classes = len(data.classes)
        out = {"num_classes": num_classes, "image_size": data.x_labeled.shape[-1]}
        if spec.n_per_class == 0 or source is not None:  # a plain round: the labelled images (and every sample)
            x, y = data.x_labeled, data.y_labeled
            if source is not None:
                images, asked = generated_images(source)
                x, y = torch.cat([x, images]), torch.cat([y, asked])
            model = copy.deepcopy(start)
            epochs = max(1, round(steps / math.ceil(len(x) / 128)))
            history = fit(model, x, y, epochs=epochs, lr=spec.lr, seed=seed + 1, precision=spec.precision,
                          desc="round 1")
            out.update(steps=history["steps"][-1], history=history)
        else:
            vae, vae_history = train_cvae(data.x_labeled, data.y_labeled, num_classes, epochs=spec.vae_epochs,
                                          latent=spec.latent, width=spec.width, sigma=spec.sigma, lr=spec.vae_lr,
                                          seed=seed)
            asked = torch.arange(num_classes).repeat_interleave(spec.n_per_class)
            images = sample(vae, asked, seed=seed, temperature=spec.temperature)
            result = self_train(data.x_labeled, data.y_labeled, images, start, threshold=spec.threshold, rounds=1,
                                round_steps=steps, lr=spec.lr, guard=spec.guard, y_unlabeled_hidden=asked,
                                precision=spec.precision, seed=seed, log=None)
            records = result.to_dict()["records"]
            model = result.model
            out.update(generator={k: v.detach().cpu() for k, v in vae.state_dict().items()},
                       vae_history=vae_history, records=records, sample_probs=result.probs[0] if result.probs else
                       predict_proba(start, images), steps=sum(r["history"]["steps"][-1] for r in records[1:]),
                       pseudo_label_accuracy=_mean_kept_accuracy(records) if len(records) > 1 else None)
        test_pred = predict_proba(model, data.x_test).argmax(1)
        out.update(test_pred=test_pred, test_accuracy=accuracy(test_pred, data.y_test))
        return out, model
    return get_or_run(spec, compute)


RUNNERS = {BaselineRun: baseline, OracleRun: oracle, SelfTrainingRun: self_training, LabelledRoundsRun: labelled_rounds,
           CurriculumRun: curriculum,
           SoftLabelsRun: soft_labels, FixMatchRun: fixmatch, EnsembleRun: ensemble, TriTrainingRun: tri_training,
           DomainShiftRun: domain_shift, CoTrainingRun: co_training, GenerativeRun: generative}


def run(spec) -> dict:
    """The run of any spec: loaded from ``outputs/runs/`` or trained."""
    return RUNNERS[type(spec)](spec)


# ------------------------------------------------------------------ the leaderboard (notebook 11)
# Every method of notebooks 04-10 at its notebook's settings, plus two controls for the
# two-class threshold effect: with two classes every max-probability is at least 0.5, so a
# threshold at or below 0.5 keeps every pseudo-label (FixMatch at 0 and at 0.7 beside 0.95); and
# self-training's rounds without their pseudo-labels, what the same steps buy on the labelled images.
LEADERBOARD = (("self-training, threshold 0.9", "04", SelfTrainingRun()),
               ("self-training's rounds, labelled only (control)", "04", LabelledRoundsRun()),
               ("soft labels + mixup", "07", SoftLabelsRun()),
               ("FixMatch, threshold 0.95", "08", FixMatchRun()),
               ("FixMatch, threshold 0.7 (control)", "09", FixMatchRun(threshold=0.7)),
               ("FixMatch, threshold 0 (control)", "09", FixMatchRun(threshold=0.0)),
               ("FlexMatch thresholds", "09", FixMatchRun(rule="flexmatch")),
               ("FreeMatch thresholds", "09", FixMatchRun(rule="freematch")),
               ("curriculum labeling", "09", CurriculumRun()),
               ("ensemble teacher -> student", "10", EnsembleRun()),
               ("tri-training", "10", TriTrainingRun()))
POOL_ACCURACY = ("accuracy on the unlabelled pool: the final model's argmax on the 8,000 unlabelled "
                 "images against their hidden labels, the same for every row")


def supervised_control(spec: BaselineRun, budgets: float) -> BaselineRun:
    """The baseline trained on its labelled images alone for ``budgets`` baseline budgets of
    optimizer steps, rounded to the nearest quarter budget: the fair floor for a method that
    took that many steps (``budgets=1`` is the baseline itself)."""
    return replace(spec, epochs=round(4 * budgets) * spec.epochs // 4)


def oracle_at_budget(spec: BaselineRun, budgets: float, budget_steps: int) -> OracleRun:
    """The oracle (every training image of ``spec``'s split with its true label) trained for
    ``budgets`` budgets of ``budget_steps`` optimizer steps: the ceiling at a method's own budget."""
    data = data_for(spec)
    n_train = len(data.y_labeled) + len(data.y_unlabeled_hidden)  # the oracle's images
    return OracleRun(seed=spec.seed, epochs=_oracle_epochs(budgets, budget_steps, n_train))


def leaderboard_rows(seed: int, oracle_budgets: tuple[int, ...] = (), controls: bool = False) -> list[dict]:
    """One row per method for one seed: test accuracy, accuracy on the unlabelled pool
    (``POOL_ACCURACY``), optimizer steps and wall time, both counting the supervised runs a
    method starts from (the baseline; a committee's three teachers). ``oracle_budgets`` adds an
    oracle trained for that many baseline budgets (e.g. the methods' own). ``controls`` adds to
    each method's row ``supervised_accuracy``, the test accuracy of ``supervised_control`` at
    the method's own budget, and ``supervised_budgets``, that control's budget."""
    base_spec = with_seed(BaselineRun(), seed)
    base, data = baseline(base_spec), data_for(base_spec)
    budget = baseline_steps(base_spec)
    oracles = [("oracle (all labels)", OracleRun(seed=seed))]
    oracles += [(f"oracle, {b:g} baseline budgets", oracle_at_budget(base_spec, b, budget)) for b in oracle_budgets]
    rows = [("baseline", "01", base, [])] + [(name, "01", oracle(spec), []) for name, spec in oracles]
    for name, notebook, spec in LEADERBOARD:
        spec = with_seed(spec, seed)
        rows.append((name, notebook, run(spec), _starts(spec, base)))
    board = [{"method": name, "notebook": notebook, "seed": seed, "test_accuracy": result["test_accuracy"],
              "pool_accuracy": None if isinstance(result["spec"], OracleRun) else pool_accuracy(result, data),
              "steps": _all_steps(result, starts), "budgets": _all_steps(result, starts) / budget,
              "precision": result["spec"].precision,
              "seconds": result["seconds"] + sum(s["seconds"] for s in starts)}
             for name, notebook, result, starts in rows]
    if controls:
        for row in board[1 + len(oracles):]:
            control = baseline(supervised_control(base_spec, row["budgets"]))
            row["supervised_accuracy"] = control["test_accuracy"]
            row["supervised_budgets"] = baseline_steps(control["spec"]) / budget
    return board


def _oracle_epochs(budgets: float, budget_steps: int, n_train: int, batch_size: int = 128) -> int:
    return max(1, round(budgets * budget_steps / math.ceil(n_train / batch_size)))


def pool_accuracy(result: dict, data: CourseData) -> float:
    """A run's final model graded on the unlabelled pool with the hidden labels (grading only):
    the saved figure when the run kept one, else computed from its model."""
    if "pool_accuracy" in result:
        return result["pool_accuracy"]
    return accuracy(predict_proba(result["model"], data.x_unlabeled).argmax(1), data.y_unlabeled_hidden)


def _starts(spec, base: dict) -> list[dict]:
    """The supervised runs a method starts from, whose steps count in its budget: a committee's
    teachers, the baseline for the other methods, none for a supervised run."""
    if isinstance(spec, (EnsembleRun, TriTrainingRun)):
        return teachers(spec)
    return [] if isinstance(spec, BaselineRun) else [base]


def _all_steps(result: dict, starts: list[dict]) -> int:
    """A run's optimizer steps, counting those of the supervised runs it starts from."""
    return result["steps"] + sum(s["steps"] for s in starts)


def compare_seeds(methods: dict, seeds=None) -> list[dict]:
    """Each named spec run with every seed on the same split, against each seed's own baseline.

    One row per method: its test accuracy per seed, their mean and standard deviation, and the
    paired difference (that seed's accuracy minus that seed's baseline's), as a mean, a standard
    deviation and per seed. The same again against ``supervised_control`` at the method's own
    budget (``budgets``, counting the runs it starts from): the baseline trained on its labelled
    images alone for as many steps, the fair floor. ``seeds`` defaults to the leaderboard's (three
    in full mode), so the runs are the ones notebook 11 collects and are trained once for both."""
    from .specs import LEADERBOARD_SEEDS
    seeds = list(LEADERBOARD_SEEDS if seeds is None else seeds)
    base_specs = {s: with_seed(BaselineRun(), s) for s in seeds}
    bases = {s: baseline(spec) for s, spec in base_specs.items()}
    base = {s: b["test_accuracy"] for s, b in bases.items()}
    rows = []
    for name, spec in methods.items():
        results = {s: run(with_seed(spec, s)) for s in seeds}
        acc = {s: r["test_accuracy"] for s, r in results.items()}
        budgets = {s: _all_steps(r, _starts(r["spec"], bases[s])) / baseline_steps(base_specs[s])
                   for s, r in results.items()}
        floor = {s: baseline(supervised_control(base_specs[s], budgets[s]))["test_accuracy"] for s in seeds}
        mean, std = mean_std(acc.values())
        gain, gain_std, gains = paired_difference(acc, base)
        above, above_std, aboves = paired_difference(acc, floor)
        rows.append({"method": name, "seeds": seeds, "per_seed": acc, "mean": mean, "std": std,
                     "gain": gain, "gain_std": gain_std, "gains": gains,
                     "same_sign": len(seeds) > 1 and (all(g > 0 for g in gains) or all(g < 0 for g in gains)),
                     "budgets": mean_std(budgets.values())[0], "supervised": floor,
                     "vs_supervised": above, "vs_supervised_std": above_std, "vs_supervised_per_seed": aboves})
    return rows


def show_comparison(rows: list[dict]) -> None:
    """Print ``compare_seeds``'s rows: mean ± std, the paired gain and each seed's gain, in points,
    then the paired difference against supervised training for the same steps."""
    seeds = rows[0]["seeds"]
    print(f"{'method':<40}{'test accuracy':>16}{'vs own baseline':>18}   per seed ({', '.join(map(str, seeds))})")
    for r in rows:
        verdict = ("same sign on every seed" if r["same_sign"] else
                   "one seed: cannot tell" if len(seeds) == 1 else
                   "none below, some exactly 0" if min(r["gains"]) == 0 else  # a guard that kept the baseline
                   "none above, some exactly 0" if max(r["gains"]) == 0 else "mixed signs: within noise")
        print(f"{r['method']:<40}{r['mean']:>9.1%} ± {r['std']:.1%}{100 * r['gain']:>+11.2f} ± {100 * r['gain_std']:.2f}"
              f"   {' '.join(f'{100 * g:+.2f}' for g in r['gains'])}  ({verdict})")
    print(f"\n{'method':<40}{'budgets':>8}{'supervised, same steps':>24}{'method − supervised':>22}   per seed")
    for r in rows:
        floor = mean_std(r["supervised"].values())
        print(f"{r['method']:<40}{r['budgets']:>8.2f}{100 * floor[0]:>16.1f} ± {100 * floor[1]:.1f}"
              f"{100 * r['vs_supervised']:>+14.2f} ± {100 * r['vs_supervised_std']:.2f}"
              f"   {' '.join(f'{100 * d:+.2f}' for d in r['vs_supervised_per_seed'])}")
    print("vs own baseline: each seed's test accuracy minus its own baseline's, in points (mean ± std over seeds).\n"
          "supervised, same steps: that seed's baseline trained on the labelled images alone for the method's "
          "budget (to the nearest quarter), in %; method − supervised: the paired difference, in points.")
