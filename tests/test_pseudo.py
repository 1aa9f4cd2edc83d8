"""helpers.pseudo: the seed's three steps, worked out by hand, and self-training's records."""
from __future__ import annotations

import math

import pytest
import torch

from helpers import pseudo_label, select_confident, self_train
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


def test_self_train_records_each_round():
    x, y = toy_images(48)
    labeled = torch.cat([torch.arange(8), torch.arange(48, 56)])
    unlabeled = torch.tensor(sorted(set(range(96)) - set(labeled.tolist())))
    result = self_train(x[labeled], y[labeled], x[unlabeled], threshold=0.6, rounds=2, epochs=8, round_epochs=4,
                        width=4, x_test=x, y_test=y, y_unlabeled_true=y[unlabeled], progress=False, log=None)
    assert [r.round for r in result.records] == [0, 1, 2]
    assert result.baseline.n_selected == 0 and result.baseline.n_train == 16
    for record, mask in zip(result.records[1:], result.masks):
        assert record.n_selected == int(mask.sum()) > 0
        assert sum(record.selected_per_class) == record.n_selected
        assert record.n_train == 16 + record.n_selected
        assert 0.0 <= record.pseudo_label_accuracy <= 1.0
    assert len(result.probs) == 2 and result.probs[0].shape == (80, 2)
    assert result.to_dict()["records"][1]["round"] == 1


def test_self_train_stops_cleanly_when_nothing_is_confident():
    x, y = toy_images(16)

    class Unsure(torch.nn.Module):  # always 50/50: nothing can pass any threshold above 0.5
        arch = {}

        def forward(self, inputs):
            return torch.zeros(len(inputs), 2)

    with pytest.warns(UserWarning, match="no pseudo-label has confidence above 0.9"):
        result = self_train(x[:4], y[:4], x[4:], threshold=0.9, rounds=3, baseline_model=Unsure(),
                            progress=False, log=None)
    assert len(result.records) == 1 and result.masks == []
