"""helpers.course (compute once, reuse when the settings match) and helpers.plots (labelled figures)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from helpers import config, course, make_model, plots  # noqa: E402
from helpers.metrics import confusion_matrix  # noqa: E402


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "OUTPUT_DIR", tmp_path / "outputs")
    return tmp_path / "outputs"


def test_cached_model_is_reused_only_for_the_same_settings(outputs):
    calls = []

    def train():
        calls.append(1)
        return make_model(width=4, seed=len(calls))

    first = course.cached_model("toy", train, width=4, epochs=1)
    again = course.cached_model("toy", train, width=4, epochs=1)
    assert len(calls) == 1
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    course.cached_model("toy", train, width=4, epochs=2)  # other settings: trained anew
    assert len(calls) == 2
    assert len(list(outputs.glob("toy-*.pt"))) == 2


def test_a_damaged_cache_file_is_retrained_not_trusted(outputs):
    course.cached_model("toy", lambda: make_model(width=4), width=4)
    for path in outputs.glob("toy-*.pt"):
        path.write_bytes(b"garbage")
    calls = []
    course.cached_model("toy", lambda: calls.append(1) or make_model(width=4), width=4)
    assert calls == [1]


def test_course_data_is_the_split_of_notebook_00(catdog):
    data = course.course_data()
    assert len(data.y_labeled) == 2000 and len(data.y_unlabeled_hidden) == 8000
    assert torch.bincount(data.y_labeled).tolist() == [1000, 1000]
    assert torch.equal(data.x_test, catdog.x_test)


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


def test_saved_figure_is_a_png_written_atomically(tmp_path):
    ax = plots.confidence_histogram(torch.rand(50) / 2 + 0.5)
    path = plots.save_figure(ax.figure, tmp_path / "hist.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["hist.png"]
    plt.close("all")


def test_cached_run_reuses_results_and_model_only_for_the_same_settings(outputs):
    calls = []

    def compute():
        calls.append(1)
        return {"test_accuracy": 0.5 + len(calls) / 10, "used": torch.tensor([1, 2])}, make_model(width=4, seed=0)

    first = course.cached_run("toyrun", compute, rule="fixed", epochs=1)
    again = course.cached_run("toyrun", compute, rule="fixed", epochs=1)
    assert calls == [1] and again["test_accuracy"] == first["test_accuracy"] == 0.6
    assert torch.equal(again["used"], torch.tensor([1, 2])) and "settings" not in again
    assert again["model"].arch["width"] == 4
    assert course.cached_run("toyrun", compute, rule="flexmatch", epochs=1)["test_accuracy"] == 0.7
    for path in outputs.glob("toyrun-*.model.pt"):
        path.write_bytes(b"garbage")  # a damaged model file: computed again, not trusted
    course.cached_run("toyrun", compute, rule="fixed", epochs=1)
    assert len(calls) == 3


def test_readme_leaderboard_is_generated_from_the_results_file():
    from benchmarks.readme_results import leaderboard

    summary = [{"method": m, "notebook": nb, "seeds": 3, "test_accuracy": acc, "test_accuracy_std": 0.004,
                "pseudo_label_accuracy": pl, "seconds": sec}
               for m, nb, acc, pl, sec in [("baseline", "01", 0.80, None, 35), ("oracle (all labels)", "01", 0.84, None, 70),
                                           ("FixMatch, threshold 0.95", "08", 0.815, 0.92, 130)]]
    text = leaderboard({"config": {"quick": False, "seeds": [0, 1, 2], "n_labeled": 2000},
                        "results": {"summary": summary}})
    lines = text.splitlines()
    assert lines[2].startswith("| oracle") and lines[3].startswith("| FixMatch")  # best first
    assert "| 81.5% ± 0.4% | -2.5 | 92.0% | 130 s |" in lines[3]
    with pytest.raises(SystemExit, match="quick-mode"):
        leaderboard({"config": {"quick": True, "seeds": [0], "n_labeled": 2000}, "results": {"summary": summary}})
