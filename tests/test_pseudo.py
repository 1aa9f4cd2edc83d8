"""helpers.pseudo: the original method's three steps, worked out by hand, and self-training's records."""
from __future__ import annotations

import math

import pytest
import torch

import helpers.pseudo as pseudo_module
from helpers import SupervisedStep, evaluate, fit, make_model, predict_proba, pseudo_label, select_confident, self_train
from helpers.metrics import accuracy
from conftest import toy_images


def test_pseudo_label_is_max_and_argmax():
    probs = torch.tensor([[0.95, 0.05], [0.3, 0.7], [0.5, 0.5]])
    max_probs, pseudo_labels = pseudo_label(probs)
    assert max_probs.tolist() == pytest.approx([0.95, 0.7, 0.5])
    assert pseudo_labels.tolist() == [0, 1, 0]  # a tie goes to the first class


def test_pseudo_label_needs_a_matrix():
    with pytest.raises(ValueError, match="N x C"):
        pseudo_label(torch.tensor([0.2, 0.8]))


def test_selection_is_strictly_above_the_threshold():
    max_probs = torch.tensor([0.5, 0.89, 0.9, 0.9001, 1.0])
    assert select_confident(max_probs, 0.9).tolist() == [False, False, False, True, True]
    assert select_confident(max_probs, 0.0).all()


@pytest.mark.parametrize("threshold", [1.0, 1.5, -0.1, math.nan, "0.9"])
def test_threshold_outside_zero_one_is_a_clear_error(threshold):
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\)"):
        select_confident(torch.tensor([0.5]), threshold)


def _toy_split(n_per_class=48, n_labeled_per_class=8):
    x, y = toy_images(n_per_class)
    labeled = torch.cat([torch.arange(n_labeled_per_class), torch.arange(n_per_class, n_per_class + n_labeled_per_class)])
    unlabeled = torch.tensor(sorted(set(range(2 * n_per_class)) - set(labeled.tolist())))
    return x, y, labeled, unlabeled


def _baseline(x, y, epochs=8):
    model = make_model(width=4, seed=0)
    fit(model, x, y, epochs=epochs, batch_size=16, lr=0.05, seed=0, progress=False)
    return model


def _weights(model):
    return [t.detach().clone() for t in model.state_dict().values()]


def test_self_train_records_each_round():
    x, y, labeled, unlabeled = _toy_split()
    model = _baseline(x[labeled], y[labeled])
    before = _weights(model)
    result = self_train(x[labeled], y[labeled], x[unlabeled], model, threshold=0.6, rounds=2, round_steps=3,
                        guard=None, test=(x, y), y_unlabeled_hidden=y[unlabeled], progress=False, log=None)
    assert [r.round for r in result.records] == [0, 1, 2]
    assert result.baseline.n_selected == 0 and result.baseline.n_train == 16
    assert result.baseline.labeled_accuracy == evaluate(model, x[labeled], y[labeled])
    assert result.baseline.test_accuracy == evaluate(model, x, y) and result.baseline.history == {}
    for record, mask in zip(result.records[1:], result.masks):
        assert record.n_selected == int(mask.sum()) > 0
        assert sum(record.selected_per_class) == record.n_selected
        assert record.n_train == 16 + record.n_selected
        assert 0.0 <= record.pseudo_label_accuracy <= 1.0
        assert 0.0 <= record.labeled_accuracy <= 1.0 and record.accepted is True
        # At most 96 images: one batch an epoch, so 3 steps are 3 epochs, each with its loss.
        assert record.history["epoch"] == [1, 2, 3] and len(record.history["train_loss"]) == 3
    assert result.records[-1].labeled_accuracy == evaluate(result.model, x[labeled], y[labeled])
    assert len(result.probs) == 2 and result.probs[0].shape == (80, 2)
    saved = result.to_dict()["records"]
    assert saved[1]["round"] == 1 and saved[1]["accepted"] is True and len(saved[1]["history"]["train_loss"]) == 3
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(model)))  # the baseline itself is left as it was
    # Each round's selection, counts and grade, worked out again from the probabilities it saved.
    assert torch.equal(result.probs[0], predict_proba(model, x[unlabeled]))  # round 1: the baseline's view
    for probs, mask, record in zip(result.probs, result.masks, result.records[1:]):
        max_probs, labels = probs.max(1)
        assert torch.equal(mask, max_probs > 0.6)
        assert record.selected_per_class == torch.bincount(labels[mask], minlength=2).tolist()
        assert record.pseudo_label_accuracy == accuracy(labels[mask], y[unlabeled][mask])


def _stub_history():
    return {"epoch": [1], "train_loss": [0.0], "train_acc": [0.0], "seconds": [0.0]}


def _scramble(model, x, y, **kwargs):
    """A stand-in for fit that makes the model worse: its last layer's logits change sign."""
    with torch.no_grad():
        model[-1].weight.neg_()
        model[-1].bias.neg_()
    return {"epoch": [1], "train_loss": [0.0], "train_acc": [0.0], "seconds": [0.0]}


def test_the_guard_rejects_a_round_that_makes_the_labelled_accuracy_fall(monkeypatch):
    x, y, labeled, unlabeled = _toy_split()
    model = _baseline(x, y)
    assert evaluate(model, x[labeled], y[labeled]) == 1.0  # a perfect start, so the scrambled one is worse
    before = _weights(model)
    monkeypatch.setattr(pseudo_module, "fit", _scramble)
    lines = []
    result = self_train(x[labeled], y[labeled], x[unlabeled], model, threshold=0.6, rounds=1, guard=0.05,
                        test=(x, y), progress=False, log=lines.append)
    base, rejected = result.records
    assert rejected.accepted is False and rejected.labeled_accuracy < base.labeled_accuracy - 0.05
    assert result.model is model and all(torch.equal(a, b) for a, b in zip(before, _weights(model)))
    assert rejected.test_accuracy == base.test_accuracy  # the kept model's
    assert "rejected by the guard" in lines[-1]

    unguarded = self_train(x[labeled], y[labeled], x[unlabeled], model, threshold=0.6, rounds=1, guard=None,
                           test=(x, y), progress=False, log=lines.append)
    accepted = unguarded.records[1]
    assert accepted.accepted is True and unguarded.model is not model
    assert accepted.labeled_accuracy == rejected.labeled_accuracy
    assert accepted.test_accuracy < base.test_accuracy
    assert "rejected" not in lines[-1]


def test_round_two_labels_the_pool_with_round_ones_model(monkeypatch):
    # The stand-in flips the last layer, so the next model's two-class probabilities are the last ones swapped:
    # round 2 must see them swapped (a round that predicted with the baseline again would not).
    x, y, labeled, unlabeled = _toy_split()
    monkeypatch.setattr(pseudo_module, "fit", _scramble)
    result = self_train(x[labeled], y[labeled], x[unlabeled], _baseline(x[labeled], y[labeled]), threshold=0.6,
                        rounds=2, guard=None, y_unlabeled_hidden=y[unlabeled], progress=False, log=None)
    torch.testing.assert_close(result.probs[1], result.probs[0].flip(1), rtol=0, atol=1e-6)
    assert result.records[2].pseudo_label_accuracy == pytest.approx(1 - result.records[1].pseudo_label_accuracy)


def test_after_a_rejection_the_kept_model_labels_and_judges_the_next_round(monkeypatch):
    x, y, labeled, unlabeled = _toy_split()
    model = _baseline(x, y)
    monkeypatch.setattr(pseudo_module, "fit", _scramble)
    result = self_train(x[labeled], y[labeled], x[unlabeled], model, threshold=0.6, rounds=2, guard=0.05,
                        test=(x, y), progress=False, log=None)
    assert [r.accepted for r in result.records[1:]] == [False, False]  # both judged against the kept baseline
    assert torch.equal(result.probs[1], result.probs[0])               # round 2 labelled by the kept model
    assert result.model is model


def test_train_labels_replaces_only_what_the_kept_images_are_trained_on(monkeypatch):
    x, y, labeled, unlabeled = _toy_split()
    targets = []
    monkeypatch.setattr(pseudo_module, "fit", lambda m, xt, yt, **k: targets.append(yt.clone()) or _stub_history())
    model = _baseline(x[labeled], y[labeled])
    result = self_train(x[labeled], y[labeled], x[unlabeled], model, threshold=0.6, rounds=1, guard=None,
                        y_unlabeled_hidden=y[unlabeled], train_labels=lambda pl, mask: 1 - pl, progress=False, log=None)
    mask, (max_probs, pseudo_labels) = result.masks[0], result.probs[0].max(1)
    assert torch.equal(targets[0], torch.cat([y[labeled], 1 - pseudo_labels[mask]]))  # flipped, as asked
    assert result.records[1].pseudo_label_accuracy == accuracy(pseudo_labels[mask], y[unlabeled][mask])  # still graded


def test_self_train_keeps_exactly_what_the_selection_rule_returns(monkeypatch):
    # Curriculum Labeling's hook: the rule, not the threshold, decides what each round keeps and trains on.
    x, y, labeled, unlabeled = _toy_split()
    trained_on = []
    monkeypatch.setattr(pseudo_module, "fit", lambda m, xt, yt, **k: trained_on.append(len(yt)) or _stub_history())
    calls = []

    def first_k(max_probs, r, pseudo_labels):  # round r keeps the first 5 r images, whatever their confidence
        calls.append((r, pseudo_labels))
        mask = torch.zeros(len(max_probs), dtype=torch.bool)
        mask[:5 * r] = True
        return mask

    result = self_train(x[labeled], y[labeled], x[unlabeled], make_model(width=4, seed=0), threshold=0.99,
                        rounds=2, guard=None, selection=first_k, progress=False, log=None)
    assert [r for r, _ in calls] == [1, 2]  # and each round's rule saw that round's pseudo-labels:
    assert all(torch.equal(labels, probs.argmax(1)) for (_, labels), probs in zip(calls, result.probs))
    assert [m.nonzero().flatten().tolist() for m in result.masks] == [list(range(5)), list(range(10))]
    assert [r.n_selected for r in result.records[1:]] == [5, 10] and trained_on == [16 + 5, 16 + 10]


def test_self_train_continues_the_baseline_unless_from_scratch(monkeypatch):
    x, y, labeled, unlabeled = _toy_split()
    model = _baseline(x[labeled], y[labeled], epochs=4)
    trained = []

    def record_start(m, x_train, y_train, **kwargs):
        trained.append(_weights(m))
        return {"epoch": [1], "train_loss": [0.0], "train_acc": [0.0], "seconds": [0.0]}

    monkeypatch.setattr(pseudo_module, "fit", record_start)
    common = dict(threshold=0.5, rounds=1, guard=None, seed=3, progress=False, log=None)
    continued = self_train(x[labeled], y[labeled], x[unlabeled], model, **common)
    assert all(torch.equal(a, b) for a, b in zip(trained[0], _weights(model)))  # the baseline's weights ...
    assert continued.model is not model                                        # ... in a copy
    self_train(x[labeled], y[labeled], x[unlabeled], model, from_scratch=True, **common)
    fresh = make_model(2, width=4, seed=3 + 1)
    assert all(torch.equal(a, b) for a, b in zip(trained[1], _weights(fresh)))


def test_self_train_trains_each_round_with_the_step_it_is_given():
    x, y, labeled, unlabeled = _toy_split()
    model = _baseline(x[labeled], y[labeled], epochs=4)
    seen = []

    def augment(batch):  # a round's step augments with this, not with fit's default
        seen.append(len(batch))
        return batch

    self_train(x[labeled], y[labeled], x[unlabeled], model, threshold=0.0, rounds=2, round_steps=2, guard=None,
               step=SupervisedStep(augment), progress=False, log=None)
    assert len(seen) == 4 and sum(seen) > 0  # two rounds of two steps, each through the given step


def test_self_train_needs_a_baseline_model():
    x, y = toy_images(4)
    with pytest.raises(TypeError):
        self_train(x[:4], y[:4], x[4:], threshold=0.9, progress=False, log=None)


def test_self_train_stops_cleanly_when_nothing_is_confident():
    x, y = toy_images(16)

    class Unsure(torch.nn.Module):  # always 50/50: nothing can pass any threshold above 0.5
        arch = {}

        def forward(self, inputs):
            return torch.zeros(len(inputs), 2)

    with pytest.warns(UserWarning, match="no pseudo-label has confidence above 0.9"):
        result = self_train(x[:4], y[:4], x[4:], Unsure(), threshold=0.9, rounds=3, progress=False, log=None)
    assert len(result.records) == 1 and result.masks == []
