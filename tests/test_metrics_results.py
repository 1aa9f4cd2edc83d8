"""helpers.metrics and helpers.results: numbers worked out by hand; results reused only when the config matches."""
from __future__ import annotations

import json
import math

import pytest
import torch

from helpers.metrics import (accuracy, calibration_bins, class_counts, confusion_matrix, expected_calibration_error,
                             mcnemar, standard_error)
from helpers.results import load_results, save_results


def test_mcnemar_is_the_exact_two_sided_binomial_test():
    assert mcnemar(0, 0) == 1.0
    assert mcnemar(10, 0) == mcnemar(0, 10) == pytest.approx(2 / 2 ** 10)
    assert mcnemar(3, 7) == pytest.approx(2 * (1 + 10 + 45 + 120) / 2 ** 10)  # 0.34375, by hand
    assert mcnemar(5, 5) == 1.0                                               # capped at 1
    assert standard_error(0.8, 2000) == pytest.approx(math.sqrt(0.8 * 0.2 / 2000))  # about 0.9 points


def test_confusion_matrix_rows_are_truth():
    truth = torch.tensor([0, 0, 0, 1, 1])
    pred = torch.tensor([0, 1, 1, 1, 0])
    assert confusion_matrix(truth, pred).tolist() == [[1, 2], [1, 1]]
    assert accuracy(pred, truth) == pytest.approx(0.4)
    assert class_counts(pred) == [2, 3]


def test_expected_calibration_error_by_hand():
    # Bin [0.9, 1.0]: confidences 0.95, 0.95, accuracy 1/2 -> gap 0.45, weight 2/4.
    # Bin [0.6, 0.7): confidences 0.65, 0.65, accuracy 1 -> gap 0.35, weight 2/4.
    max_probs = torch.tensor([0.95, 0.95, 0.65, 0.65])
    correct = torch.tensor([1, 0, 1, 1])
    assert expected_calibration_error(max_probs, correct, n_bins=10) == pytest.approx(0.5 * 0.45 + 0.5 * 0.35)
    bins = calibration_bins(max_probs, correct, n_bins=10)
    assert bins["count"].tolist() == [0, 0, 0, 0, 0, 0, 2, 0, 0, 2]


def test_perfectly_calibrated_predictions_have_zero_ece():
    correct = torch.tensor([1] * 7 + [0] * 3)
    max_probs = torch.full((10,), 0.7)
    assert expected_calibration_error(max_probs, correct) == pytest.approx(0.0, abs=1e-6)


def test_results_are_reused_only_for_the_same_config(tmp_path):
    path = tmp_path / "results.json"
    assert load_results(path) is None
    save_results(path, {"accuracy": 0.8}, {"seed": 0, "epochs": 40})
    assert load_results(path, {"seed": 0, "epochs": 40}) == {"accuracy": 0.8}
    assert load_results(path, {"seed": 1, "epochs": 40}) is None
    assert json.loads(path.read_text())["config"] == {"epochs": 40, "seed": 0}
    path.write_text("{ broken")
    assert load_results(path) is None
