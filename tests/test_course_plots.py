"""helpers.course (the course split), helpers.plots (labelled figures) and the README's tables.

The cache of runs is tested in test_cache_specs.py."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import config, course, plots  # noqa: E402
from helpers.metrics import confusion_matrix  # noqa: E402


def test_course_data_is_the_split_of_notebook_00(catdog):
    data = course.course_data(n_unlabeled=None, n_test=None)  # full mode's: every image
    assert len(data.y_labeled) == 2000 and len(data.y_unlabeled_hidden) == 8000
    assert torch.bincount(data.y_labeled).tolist() == [1000, 1000]
    assert torch.equal(data.x_test, catdog.x_test)
    default = course.course_data()  # quick mode's default keeps part of the pool and of the test set
    assert len(default.y_unlabeled_hidden) == (2000 if config.QUICK else 8000)
    assert len(default.y_test) == (1000 if config.QUICK else 2000)


def _labels(ax):
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel()


def test_every_plot_has_a_title_and_axis_labels():
    max_probs = torch.linspace(0.5, 1.0, 200)
    correct = torch.rand(200, generator=torch.Generator().manual_seed(0)) < max_probs
    axes = [
        plots.confidence_histogram(max_probs, correct, threshold=0.9),
        plots.accuracy_vs_rounds({"t=0.9": [0.8, 0.82, 0.83]}, baseline=0.8, oracle=0.86),
        plots.reliability_diagram(max_probs, correct),
        plots.confusion_matrix(confusion_matrix(correct.long(), torch.ones(200).long()), ("cat", "dog")),
    ]
    for ax in axes:
        assert all(_labels(ax)), _labels(ax)
    legend_texts = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert any("baseline" in t for t in legend_texts) and any("oracle" in t for t in legend_texts)
    fig = plots.training_curves({"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_acc": [0.5, 0.7],
                                 "val_loss": [1.1, 0.8], "val_acc": [0.5, 0.6]})
    assert all(ax.get_legend() is not None and ax.get_xlabel() == "epoch" for ax in fig.axes)
    plt.close("all")


def test_accuracy_against_rounds_does_not_magnify_a_small_change():
    # A 0.7-point change drawn on an axis at least 10 points tall, with one standard error per point.
    ax = plots.accuracy_vs_rounds({"t=0.9": [0.803, 0.805, 0.81]}, baseline=0.803, n_test=2000)
    low, high = ax.get_ylim()
    assert high - low >= 0.10 - 1e-9 and low < 0.803 < 0.81 < high
    wide = plots.accuracy_vs_rounds({"t=0.9": [0.55, 0.80, 0.84]}, baseline=0.55, oracle=0.86)
    assert wide.get_ylim()[0] < 0.55 and wide.get_ylim()[1] > 0.86  # a wider range is shown whole
    plt.close("all")


def test_saved_figure_is_a_png_written_atomically(tmp_path):
    ax = plots.confidence_histogram(torch.rand(50) / 2 + 0.5)
    path = plots.save_figure(ax.figure, tmp_path / "hist.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["hist.png"]
    plt.close("all")
