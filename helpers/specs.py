"""Every run the course makes, as a value: one frozen dataclass per kind of run.

A spec holds *every* setting that changes a run's result, with its default. Its fields, hashed
(``helpers.cache.spec_key``), are the run's cache key, so no setting can be left out of the key
by hand. Quick mode (``PSEUDO_QUICK=1``) changes the defaults here and nowhere else: shorter
runs on the same split, predicted and graded on part of the pool and of the test set
(``n_unlabeled``, ``n_test``). A field marked ``KEY_IF_SET`` is left out of the key while it is
None, so that adding one kept every earlier run's key.

A method that starts from the supervised baseline holds that baseline's spec (``baseline``),
so its key covers the baseline's settings too, and its random seed is the baseline's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from .config import POOL_IMAGES, SEED, TEST_IMAGES, pick
from .train import fast_precision

# Run lengths. Optimizer steps are counted in "baseline budgets": one budget is the supervised
# baseline's steps (BASELINE_EPOCHS passes over the 2,000 labelled images, batch 128).
BASELINE_EPOCHS = pick(40, 20)
ORACLE_EPOCHS = pick(16, 15)          # 16 epochs of 10,000 images: 2 budgets of steps (quick: 15 of 4,000, 1.5)
ROUNDS = pick(3, 2)                   # self-training rounds after the baseline
ROUND_BUDGET = pick(1.0, 0.125)       # a self-training round's steps, in baseline budgets
RETRAIN_BUDGET = pick(1.0, 0.125)     # a curriculum round's, a tri-training student's
STUDENT_BUDGET = pick(2.0, 0.125)     # the ensemble's student
SOFT_EPOCHS = pick(10, 1)             # passes over labelled + unlabelled images
FIXMATCH_EPOCHS = pick(30, 1)         # passes over the labelled images, 32 steps each
LEADERBOARD_SEEDS = pick((0, 1, 2), (0,))  # notebook 11's random seeds
SHIFT_BUDGET = pick(0.25, 0.125)      # notebook 13: self-training on the target domain, one round
COTRAIN_BUDGET = 0.125                # notebook 13: the CNN's steps per co-training round
GENERATIVE_BUDGET = pick(0.25, 0.125)  # notebook 14: one round of training on generated images
VAE_EPOCHS = pick(15, 1)              # notebook 14: the conditional VAE's passes over the labelled images
# One precision for every run, so that every comparison is like for like: bfloat16 autocast
# where the hardware computes it natively (1.4-1.8x faster on a CPU with AVX512-BF16,
# benchmarks/precision.py), else float32 (emulated bfloat16 would be slower).
PRECISION = fast_precision()
KEY_IF_SET = {"key": "if set"}  # field metadata: in the cache key only when not None


@dataclass(frozen=True)
class BaselineRun:
    """Supervised training on the labelled images of the course split."""

    seed: int = SEED                  # initial weights and batch order
    split_seed: int = SEED            # which images are labelled (the course split)
    n_labeled: int = 2000
    n_unlabeled: int | None = field(default=POOL_IMAGES, metadata=KEY_IF_SET)  # None: the whole pool
    n_test: int | None = field(default=TEST_IMAGES, metadata=KEY_IF_SET)       # None: every test image
    holdout: int = 0                  # labelled images held out for validation (notebook 06)
    width: int = 16
    epochs: int = BASELINE_EPOCHS
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    augment: str = "weak"             # "weak" (flip + crop) or "strong" (RandAugment + cutout)
    mixup_alpha: float = 0.0          # 0: no mixup (notebook 07 tries 1.0)
    precision: str = PRECISION


@dataclass(frozen=True)
class OracleRun(BaselineRun):
    """The ceiling: the same model trained on every training image with its true label."""

    epochs: int = ORACLE_EPOCHS


@dataclass(frozen=True)
class SelfTrainingRun:
    """The original method: rounds of predict -> keep ``max_probs > threshold`` -> train."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    threshold: float = 0.9
    rounds: int = ROUNDS
    round_budget: float = ROUND_BUDGET
    from_scratch: bool = False        # the write-up: continue training; True: a fresh model a round
    lr: float = 0.1
    guard: float | None = 0.05        # reject a round whose labelled accuracy falls by more
    precision: str = PRECISION


@dataclass(frozen=True)
class LabelledRoundsRun:
    """The control for self-training: its rounds (steps, schedule, seeds) from the same baseline,
    each continuing the model on the labelled images alone, with no pseudo-label."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    rounds: int = ROUNDS
    round_budget: float = ROUND_BUDGET
    lr: float = 0.1
    precision: str = PRECISION


@dataclass(frozen=True)
class CurriculumRun:
    """Curriculum Labeling: round r keeps the ``fractions[r-1]`` most confident pseudo-labels."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    fractions: tuple[float, ...] = (0.5, 1.0)
    round_budget: float = RETRAIN_BUDGET
    from_scratch: bool = True         # as in the paper: a fresh model each round
    lr: float = 0.1
    guard: float | None = None
    precision: str = PRECISION


@dataclass(frozen=True)
class SoftLabelsRun:
    """Notebook 07: soft pseudo-labels, a minimum of labelled images per batch, mixup."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    alpha: float = 1.0                # mixup's Beta(alpha, alpha); 0: no mixup
    temperature: float = 0.5          # sharpening
    align: bool = True                # distribution alignment to the labelled class balance
    min_labeled: int = 16
    epochs: int = SOFT_EPOCHS
    batch_size: int = 128
    lr: float = 0.05
    precision: str = PRECISION


@dataclass(frozen=True)
class FixMatchRun:
    """Notebooks 08-09: FixMatch warm-started from the baseline, with a threshold rule."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    rule: str = "fixed"               # "fixed", "flexmatch" or "freematch"
    threshold: float = 0.95           # the fixed threshold; FlexMatch's tau
    flexmatch_warmup: bool = True
    freematch_momentum: float = 0.999
    epochs: int = FIXMATCH_EPOCHS
    batch_size: int = 64              # labelled images a step
    mu: int = 2                       # unlabelled images a step, per labelled image
    unlabeled_weight: float = 1.0
    lr: float = 0.03
    ema_decay: float = 0.99
    precision: str = PRECISION


# Notebook 10's committee: the baseline, a second seed of it, and one that sees strong views.
TEACHER_VIEWS = ("weak", "weak", "strong")
# Teacher i of seed s has seed s + TEACHER_SEED_STRIDE * i: the committees of seeds 0-999 share
# no model, so seeds stay independent. A student the guard rejects is retrained from seed
# + RETRY_SEED_STRIDE * attempt (attempts 1-9 stay inside the seed's own block of 1000).
TEACHER_SEED_STRIDE = 1000
RETRY_SEED_STRIDE = 100


@dataclass(frozen=True)
class TriTrainingRun:
    """Notebook 10: each of three models retrained on the labels the other two agree on."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    views: tuple[str, ...] = TEACHER_VIEWS
    threshold: float = 0.9
    student_budget: float = RETRAIN_BUDGET
    lr: float = 0.1
    precision: str = PRECISION


@dataclass(frozen=True)
class EnsembleRun(TriTrainingRun):
    """Notebook 10: one student trained on the pseudo-labels three teachers agree on. It gets
    self-training's guard: trained for two budgets from scratch at learning rate 0.1, it failed
    to train at all on one seed (labelled accuracy 50 %). Tri-training's students, one budget
    each, fit the labelled images a few points less than the baseline by design and never
    collapsed (9 of 9), so a 5-point guard on them would reject healthy models: they have none."""

    student_budget: float = STUDENT_BUDGET
    guard: float | None = 0.05        # retrain a student whose labelled accuracy falls more than
    retries: int = 2                  # this far below the baseline's, from another initialisation


@dataclass(frozen=True)
class DomainShiftRun:
    """Notebook 13: the baseline meets a target domain (the pool and the test images, grayscale,
    blurred, at ``shift_size`` pixels) and self-trains on the unlabelled target images."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    shift_size: int = 16
    shift_sigma: float = 1.0
    adabn: bool = False               # start from the target's batch-norm statistics (AdaBN)
    threshold: float = 0.9
    pseudo_labels: bool = True        # False: the control, the same rounds on the labelled source images alone
    rounds: int = 1                   # 0: no self-training, only the starting model graded
    round_budget: float = SHIFT_BUDGET
    lr: float = 0.1
    precision: str = PRECISION


@dataclass(frozen=True)
class CoTrainingRun:
    """Notebook 13: the CNN (pixels) and a linear classifier on colour and edge histograms label
    the pool for each other (``teacher="other"``) or for themselves (``"self"``, the control)."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    teacher: str = "other"
    rounds: int = 2
    per_class: int = 500              # new picks per class, per view and round
    round_budget: float = COTRAIN_BUDGET
    lr: float = 0.1
    precision: str = PRECISION


@dataclass(frozen=True)
class GenerativeRun:
    """Notebook 14: a conditional VAE trained on the labelled images draws ``n_per_class`` images
    per class; the baseline labels them, those above ``threshold`` join the labelled images for
    one round of continued training. ``n_per_class=0`` is the control: the same round on the
    labelled images alone (no generator is trained). ``labels="asked"``: every sample joins, with
    the class the VAE was asked for and no filter (generative augmentation as it is usually done).
    The guard is off by default, so that every arm of notebook 14's comparison trains its steps."""

    baseline: BaselineRun = field(default_factory=BaselineRun)
    n_per_class: int = 2000
    latent: int = 32                  # the VAE's latent dimensions
    width: int = 32                   # its first convolution's channels
    sigma: float = 0.1                # its decoder's pixel noise (0..1 scale)
    vae_epochs: int = VAE_EPOCHS
    vae_lr: float = 2e-3
    temperature: float = 1.0          # z ~ N(0, temperature^2 I) when sampling
    labels: str = "classifier"        # "classifier": the baseline's, above threshold; "asked": the VAE's class
    threshold: float = 0.9
    round_budget: float = GENERATIVE_BUDGET
    lr: float = 0.1
    guard: float | None = None        # off: the comparison is of what the images are worth
    precision: str = PRECISION


SPECS = (BaselineRun, OracleRun, SelfTrainingRun, LabelledRoundsRun, CurriculumRun, SoftLabelsRun, FixMatchRun,
         EnsembleRun, TriTrainingRun, DomainShiftRun, CoTrainingRun, GenerativeRun)


def teacher_specs(spec: EnsembleRun | TriTrainingRun) -> list[BaselineRun]:
    """The committee's supervised models, each with its view: seeds s, s + 1000, s + 2000."""
    return [replace(spec.baseline, seed=spec.baseline.seed + TEACHER_SEED_STRIDE * i, augment=view)
            for i, view in enumerate(spec.views)]


def with_seed(spec, seed: int):
    """The same run with another random seed (a method's seed is its baseline's)."""
    if any(f.name == "baseline" for f in fields(spec)):
        return replace(spec, baseline=replace(spec.baseline, seed=seed))
    return replace(spec, seed=seed)


def seed_of(spec) -> int:
    return spec.baseline.seed if hasattr(spec, "baseline") else spec.seed
