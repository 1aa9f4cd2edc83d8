"""helpers.train: the loop learns, is reproducible, predicts probabilities; checkpoints are safe."""
from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F

import helpers.train as train_module
from helpers import (CheckpointError, SupervisedStep, TrainStep, evaluate, fit, load_checkpoint, make_model,
                     predict_proba, save_checkpoint)
from helpers.augment import weak_augment
from helpers.methods.soft_labels import SoftMixupStep
from helpers.metrics import accuracy
from helpers.train import prepare
from conftest import toy_images


def test_fit_learns_a_separable_task_and_records_history():
    x, y = toy_images()
    model = make_model(width=4)
    history = fit(model, x, y, epochs=6, batch_size=16, lr=0.05, seed=0, progress=False, val=(x, y))
    assert history["epoch"] == list(range(1, 7))
    assert set(history) >= {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert evaluate(model, x, y) == 1.0


def test_same_seed_same_weights():
    x, y = toy_images()
    a, b = make_model(width=4, seed=1), make_model(width=4, seed=1)
    fit(a, x, y, epochs=2, batch_size=16, seed=7, progress=False)
    fit(b, x, y, epochs=2, batch_size=16, seed=7, progress=False)
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)


class WeightedStep(TrainStep):
    """Per-image loss weights: the batch arrives as indices, the step looks up labels and weights."""

    def __init__(self, y, weights):
        self.y, self.weights = y, weights

    def __call__(self, model, xb, index):
        yb, wb = self.y[index.cpu()].to(index.device), self.weights[index.cpu()].to(index.device)
        logits = model(prepare(weak_augment(xb), index.device)).float()
        losses = F.cross_entropy(logits, yb, reduction="none")
        return (losses * wb).sum() / wb.sum().clamp_min(1e-8), int((logits.argmax(1) == yb).sum())


def test_soft_targets_train_through_soft_mixup_step():
    x, y = toy_images()
    soft = torch.nn.functional.one_hot(y, 2).float() * 0.8 + 0.1
    model = make_model(width=4)
    step = SoftMixupStep(x, soft, n_labeled=len(x), alpha=0.0, relabel=False)
    fit(model, x, torch.arange(len(x)), step=step, epochs=6, batch_size=16, lr=0.05, seed=0, progress=False)
    assert evaluate(model, x, y) == 1.0
    assert torch.equal(step.targets, soft)  # relabel=False: the targets stay as given


def test_per_image_weights_through_a_step_given_indices():
    x, y = toy_images()
    # Weight 0 on every bright image: the model never learns that class.
    ignore_bright = (y == 0).float()
    model = make_model(width=4)
    fit(model, x, torch.arange(len(x)), step=WeightedStep(y, ignore_bright), epochs=4, batch_size=16, lr=0.05,
        seed=0, progress=False)
    assert accuracy(predict_proba(model, x).argmax(1), torch.zeros_like(y)) > 0.9
    # The same step with equal weights learns both classes: the weights, not the step, did it.
    model = make_model(width=4)
    fit(model, x, torch.arange(len(x)), step=WeightedStep(y, torch.ones(len(y))), epochs=6, batch_size=16,
        lr=0.05, seed=0, progress=False)
    assert evaluate(model, x, y) == 1.0


class RecordingStep(TrainStep):
    """Counts the moments fit calls and reports a fixed loss share and half its batch correct."""

    def __init__(self):
        self.calls, self.updates, self.epochs_ended, self.labels = 0, 0, [], []

    def __call__(self, model, xb, yb):
        self.calls += 1
        self.labels.append(yb.tolist())
        logits = model(prepare(xb, yb.device)).float()
        return F.cross_entropy(logits, yb) * 0 + 2.0, len(yb) // 2

    def after_update(self, model):
        assert model.training
        self.updates += 1

    def end_epoch(self, model, epoch):
        self.epochs_ended.append(epoch)


def test_fit_calls_the_step_in_the_given_batch_order_and_records_what_it_returns():
    x, y = toy_images(8, size=8)
    step = RecordingStep()
    fixed = [torch.arange(0, 8), torch.arange(8, 16)]
    history = fit(make_model(width=4, seed=0), x, y, epochs=3, batch_size=8, step=step, batches=lambda: fixed,
                  progress=False, seed=0)
    assert step.calls == step.updates == 6                 # one after_update per optimizer step
    assert step.labels == [[0] * 8, [1] * 8] * 3           # the batches came in the order given
    assert step.epochs_ended == [1, 2]                     # after each epoch but the last
    assert history["epoch"] == [1, 2, 3]
    assert history["train_loss"] == pytest.approx([2.0] * 3)  # the step's loss, averaged per image
    assert history["train_acc"] == [0.5] * 3               # the step's n_correct over the images seen


def test_supervised_step_is_the_default():
    x, y = toy_images()
    a, b = make_model(width=4, seed=1), make_model(width=4, seed=1)
    fit(a, x, y, epochs=2, batch_size=16, seed=7, progress=False)
    fit(b, x, y, epochs=2, batch_size=16, seed=7, progress=False, step=SupervisedStep(weak_augment))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    c = make_model(width=4, seed=1)
    fit(c, x, y, epochs=2, batch_size=16, seed=7, progress=False, step=SupervisedStep(augment=None))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


def test_fit_rejects_mismatched_inputs():
    x, y = toy_images()
    with pytest.raises(ValueError, match="labels"):
        fit(make_model(width=4), x, y[:-1], epochs=1, progress=False)


def test_predict_proba_is_a_distribution_and_leaves_training_mode_alone():
    x, _ = toy_images()
    model = make_model(width=4).train()
    probs = predict_proba(model, x, batch_size=10)
    assert probs.shape == (len(x), 2)
    assert torch.allclose(probs.sum(1), torch.ones(len(x)))
    assert model.training
    assert torch.allclose(predict_proba(model, x, tta=False), predict_proba(model, x, batch_size=7, tta=False), atol=1e-6)


def test_prediction_in_batches_matches_one_pass_and_never_holds_the_pool_as_floats(monkeypatch):
    x, _ = toy_images()
    model = make_model(width=4, seed=0)
    whole = predict_proba(model, x, batch_size=len(x))  # TTA on: the mirror images are made per batch too
    sizes = []
    real_prepare = train_module.prepare
    monkeypatch.setattr(train_module, "prepare", lambda xb, device: sizes.append(len(xb)) or real_prepare(xb, device))
    in_batches = predict_proba(model, x, batch_size=10)
    assert sizes == [10] * 6 + [4]  # only a batch at a time ever becomes float
    torch.testing.assert_close(in_batches, whole, rtol=0, atol=1e-6)
    assert torch.equal(in_batches.argmax(1), whole.argmax(1))


def test_default_prediction_batch_holds_the_same_pixels_at_any_image_size():
    sizes = {s: train_module.predict_batch_size(torch.zeros(1, 3, s, s, dtype=torch.uint8)) for s in (16, 32, 64, 256)}
    assert sizes == {16: 256, 32: 256, 64: 64, 256: 4}  # 32 px and below: PREDICT_BATCH


# ---------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip(tmp_path):
    x, y = toy_images()
    model = make_model(width=4)
    fit(model, x, y, epochs=1, batch_size=16, seed=0, progress=False)
    path = save_checkpoint(model, tmp_path / "model.pt", test_accuracy=0.5)
    loaded, meta = load_checkpoint(path)
    assert meta == {"test_accuracy": 0.5} and loaded.arch == model.arch
    assert torch.equal(predict_proba(loaded, x), predict_proba(model, x))


def test_failed_save_keeps_the_old_file_and_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    save_checkpoint(make_model(width=4), path)
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(train_module.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(make_model(width=8), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint.*pseudo_labeling.py"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_mismatched_checkpoint_names_both_architectures(tmp_path):
    path = save_checkpoint(make_model(width=8), tmp_path / "w8.pt")
    with pytest.raises(CheckpointError, match="'width': 8.*'width': 4"):
        load_checkpoint(path, make_model(width=4))


def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(corrupt)
    # weights_only=True: a pickle that would run code is refused, not executed.
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"state_dict": {}, "hook": print}))
    with pytest.raises(CheckpointError):
        load_checkpoint(evil)


@pytest.mark.parametrize("total", [1, 2, 4, 640])
def test_one_cycle_rises_then_falls_to_zero(total):
    factors = [train_module.one_cycle(s, total) for s in range(total)]
    peak = factors.index(max(factors))
    assert max(factors) == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(factors[:peak], factors[1:peak + 1]))
    assert all(a >= b for a, b in zip(factors[peak:], factors[peak + 1:]))
    assert all(f > 0 for f in factors) and factors[-1] <= factors[0] + 1e-9 or total <= 2
    rise = max(1, round(0.25 * total))
    assert factors[-1] == pytest.approx(1 / max(1, total - rise))  # one step from the end: one step's worth left
    assert train_module.one_cycle(total, total) == 0.0               # the factor after the last step


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_precision_sets_the_dtype_of_the_forward_pass_not_of_the_weights(precision, dtype):
    x, y = toy_images()
    model = make_model(width=4)
    seen = set()
    model[0].register_forward_hook(lambda module, inputs, output: seen.add(output.dtype) if module.training else None)
    fit(model, x, y, epochs=6, batch_size=16, lr=0.05, seed=0, progress=False, precision=precision)
    assert seen == {dtype}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert evaluate(model, x, y) == 1.0


def test_unknown_precision_is_refused_before_training():
    x, y = toy_images()
    model = make_model(width=4, seed=0)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="'fp32' or 'bf16'"):
        fit(model, x, y, epochs=1, progress=False, precision="fp16")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_fast_precision_follows_the_cpu(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert train_module.fast_precision(cpu) == "fp32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert train_module.fast_precision(cpu) == "bf16"
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert train_module.fast_precision(cpu) == "fp32"  # a torch without the probe: play safe
