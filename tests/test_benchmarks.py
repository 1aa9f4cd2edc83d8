"""The benchmarks run against the helpers' current API: each one on toy images, in seconds."""
from __future__ import annotations

import json
import re

import pytest
import torch

from benchmarks import baseline as baseline_benchmark
from benchmarks import longer_runs
from benchmarks import plateau_teacher
from benchmarks import round_recipes
from benchmarks.readme_results import recipes_table, table
from helpers import cache, config, runs, specs
from helpers.methods import soft_labels
from conftest import toy_course_data


@pytest.fixture
def toy_runs(tmp_path, monkeypatch):
    """Every run trains on toy images and is saved under a temporary outputs folder."""
    monkeypatch.setattr(config, "OUTPUT_DIR", tmp_path / "outputs")
    monkeypatch.setattr(runs, "data_for", lambda spec: toy_course_data())
    return cache.runs_dir()


def test_baseline_benchmark_trains_every_seed_afresh_and_leaves_the_cache_alone(toy_runs, capsys):
    baseline_benchmark.main(["--seeds", "0", "1"])
    out = capsys.readouterr().out
    assert out.count("\ntraining baseline-") == 2 and "loaded" not in out  # trained, never loaded
    assert re.search(r"seed 0: fit [\d.]+ s, fit \+ test evaluation [\d.]+ s, test accuracy [\d.]+%", out)
    assert "seed 1: fit" in out
    assert config.OUTPUT_DIR == toy_runs.parent and not toy_runs.exists()  # nothing saved in outputs/


def test_longer_runs_benchmark_sets_the_long_run_against_its_floor_and_oracle_seed_by_seed(toy_runs, tmp_path, capsys):
    saved = tmp_path / "longer.json"
    longer_runs.main(["--rule", "fixed", "--threshold", "0", "--epochs", "45", "--seeds", "0", "1", "--json", str(saved)])
    out = capsys.readouterr().out
    assert re.search(r"^seed 0: baseline [\d.]+%, [\d.]+ budgets [\d.]+%, [\d.]+ budgets [\d.]+% "
                     r"\(floor [\d.]+%, oracle [\d.]+%\)", out, re.M)
    assert re.search(r"long minus floor [+-][\d.]+ ± [\d.]+ points \(per seed [+-][\d.]+ / [+-][\d.]+\)", out)
    assert re.search(r"gap closed (-?\d+%|none \(no gap\)) from the baseline, (-?\d+%|none \(no gap\)) from the floor", out)
    result = json.loads(saved.read_text())
    assert result["settings"]["threshold"] == 0 and result["settings"]["epochs"] == 45 and [r["seed"] for r in result["seeds"]] == [0, 1]
    for row in result["seeds"]:  # the floor and the oracle at the long run's budget, not the notebooks'
        assert row["spec"]["epochs"] == 45 and row["spec"]["threshold"] == 0 and row["budgets"] > row["short_budgets"] > 1
        diff = 100 * (row["long"] - row["floor"])
        assert diff == pytest.approx(result["summary"]["long_minus_floor"][2][row["seed"]])
    floors = [json.loads(p.read_text()) for p in toy_runs.glob("baseline-*.json")]
    base_epochs = min(f["settings"]["epochs"] for f in floors)
    budgets = result["seeds"][0]["budgets"]
    assert {f["settings"]["epochs"] for f in floors} == {base_epochs, round(4 * budgets) * base_epochs // 4}
    assert {p.name.split("-")[0] for p in toy_runs.glob("*.json")} == {"baseline", "oracle", "fixmatch"}
    fixmatch = [json.loads(p.read_text())["settings"] for p in toy_runs.glob("fixmatch-*.json")]
    assert sorted(s["epochs"] for s in fixmatch) == sorted([specs.FIXMATCH_EPOCHS] * 2 + [45] * 2) and {s["threshold"] for s in fixmatch} == {0}


def test_longer_runs_gap_closed_is_a_share_of_the_gap_and_none_without_one():
    assert longer_runs.gap_closed(82.0, 80.0, 85.0) == pytest.approx(0.4)
    assert longer_runs.gap_closed(79.0, 80.0, 85.0) == pytest.approx(-0.2)  # below the start: negative
    assert longer_runs.gap_closed(82.0, 85.0, 85.0) is None  # the oracle no higher than the start: no gap


def test_round_recipes_benchmark_compares_each_recipe_with_the_default_seed_by_seed(toy_runs, tmp_path, capsys):
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "default", "lr0.03", "--seeds", "0", "1", "--json", str(saved)])
    out = capsys.readouterr().out
    assert re.search(r"^default\s+[+-][\d.]+ ± [\d.]+\s+[+-][\d.]+ ± [\d.]+\s+\d+\s+[\d.]+$", out, re.M)
    assert re.search(r"^lr0\.03(\s+[+-][\d.]+ ± [\d.]+){4}\s+\d+\s+[\d.]+$", out, re.M)  # gains and paired differences
    runs_saved = json.loads(saved.read_text())
    assert runs_saved["lr0.03"]["settings"]["lr"] == 0.03 and runs_saved["default"]["settings"]["lr"] == 0.1
    assert [r["seed"] for r in runs_saved["default"]["seeds"]] == [0, 1]
    assert all(len(r["pool_accuracy"]) == 2 for r in runs_saved["lr0.03"]["seeds"])
    round_recipes.main(["--recipes", "labelled-only", "--seeds", "0", "--json", str(saved)])
    out = capsys.readouterr().out
    runs_saved = json.loads(saved.read_text())
    assert set(runs_saved) == {"default", "lr0.03", "labelled-only"}  # the earlier recipes stay in the file
    control = runs_saved["labelled-only"]["seeds"][0]
    assert control["kept"] == [] and len(control["labeled_accuracy"]) == 1 + round_recipes.DEFAULT["rounds"]
    assert re.search(r"^labelled-only(\s+[+-][\d.]+ ± [\d.]+){4}\s+0\s+[\d.]+$", out, re.M)


@pytest.fixture
def labelled_rounds_specs(toy_runs, monkeypatch):
    """The specs the recipes hand ``runs.labelled_rounds`` (the labelled-only controls), in order."""
    specs_seen = []
    real = round_recipes.runs.labelled_rounds
    monkeypatch.setattr(round_recipes.runs, "labelled_rounds", lambda spec: specs_seen.append(spec) or real(spec))
    return specs_seen


def test_round_recipes_two_budget_control_trains_its_labelled_rounds_for_twice_the_steps(labelled_rounds_specs,
                                                                                      tmp_path):
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "labelled-only", "labelled-only-budget2", "--seeds", "0", "--json", str(saved)])
    one, two = labelled_rounds_specs
    assert (one.round_budget, two.round_budget) == (round_recipes.ROUND_BUDGET, 2 * round_recipes.ROUND_BUDGET)
    assert one.rounds == two.rounds == round_recipes.DEFAULT["rounds"] and one.baseline == two.baseline
    assert {name: e["settings"]["round_budget"] for name, e in json.loads(saved.read_text()).items()} == {
        "labelled-only": round_recipes.ROUND_BUDGET, "labelled-only-budget2": 2 * round_recipes.ROUND_BUDGET}


def test_round_recipes_five_round_control_runs_the_five_rounds_on_labelled_images_alone(labelled_rounds_specs,
                                                                                         tmp_path):
    rounds5 = {**round_recipes.DEFAULT, **round_recipes.RECIPES["rounds5"]}
    control = {**round_recipes.DEFAULT, **round_recipes.RECIPES["labelled-only-rounds5"]}
    assert {k for k in rounds5 if rounds5[k] != control[k]} == {"pseudo_labels", "guard"}  # the pool, and its guard
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "labelled-only-rounds5", "--seeds", "0", "--json", str(saved)])
    [spec] = labelled_rounds_specs
    assert spec.rounds == rounds5["rounds"] == round_recipes.DEFAULT["rounds"] + 2
    assert spec.round_budget == rounds5["round_budget"] and spec.lr == rounds5["lr"]
    [record] = json.loads(saved.read_text())["labelled-only-rounds5"]["seeds"]
    assert len(record["labeled_accuracy"]) == rounds5["rounds"] + 1 and record["kept"] == []  # the baseline, then each round


def test_round_recipes_run_on_more_seeds_keeps_the_earlier_seeds_of_the_same_settings(toy_runs, tmp_path):
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "default", "--seeds", "0", "1", "--json", str(saved)])
    first = json.loads(saved.read_text())["default"]["seeds"]
    round_recipes.main(["--recipes", "default", "--seeds", "2", "1", "--json", str(saved)])
    entry = json.loads(saved.read_text())["default"]
    assert [r["seed"] for r in entry["seeds"]] == [0, 1, 2]  # seed 0 kept, 1 replaced, 2 added, in order
    assert entry["seeds"][0] == first[0]
    old = {k: v for k, v in entry["settings"].items() if k != "balanced"}  # saved before a setting existed
    kept = round_recipes.merged({"settings": old, "seeds": first}, entry["settings"], [entry["seeds"][2]])
    assert [r["seed"] for r in kept["seeds"]] == [0, 1, 2]  # a missing setting counts as its default
    other = {**entry["settings"], "lr": 0.03}  # other settings: the earlier seeds are dropped, not mixed in
    assert [r["seed"] for r in round_recipes.merged(entry, other, [entry["seeds"][2]])["seeds"]] == [2]


def spy_on_self_train(monkeypatch, argument: str) -> list:
    """Record ``argument`` of every ``self_train`` call the recipes make (None where not passed)."""
    seen = []
    real = round_recipes.h.self_train

    def spy(*args, **kwargs):
        seen.append(kwargs.get(argument))
        return real(*args, **kwargs)

    monkeypatch.setattr(round_recipes.h, "self_train", spy)
    return seen


def test_round_recipes_true_labels_trains_the_same_kept_images_on_their_true_labels(toy_runs, tmp_path, monkeypatch):
    seen = spy_on_self_train(monkeypatch, "train_labels")
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "default", "true-labels", "--seeds", "0", "--json", str(saved)])
    assert seen[0] is None and seen[1] is not None  # the default trains on pseudo-labels, the bound on the truth
    data = round_recipes.runs.data_for(round_recipes.BaselineRun(seed=0, split_seed=0))
    pseudo_labels, mask = torch.zeros(len(data.y_unlabeled_hidden), dtype=torch.long), torch.zeros(
        len(data.y_unlabeled_hidden), dtype=torch.bool)
    mask[::2] = True
    trained = seen[1](pseudo_labels, mask)
    assert torch.equal(trained[mask], data.y_unlabeled_hidden[mask]) and (trained[~mask] == 0).all()
    entry = json.loads(saved.read_text())["true-labels"]
    assert entry["settings"]["true_labels"] is True and entry["seeds"][0]["kept"]


def test_round_recipes_higher_thresholds_select_with_their_own_threshold(toy_runs, tmp_path, monkeypatch):
    seen = spy_on_self_train(monkeypatch, "threshold")
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "threshold0.97", "threshold0.99", "--seeds", "0", "--json", str(saved)])
    assert seen == [0.97, 0.99]
    entries = json.loads(saved.read_text())
    assert {name: e["settings"]["threshold"] for name, e in entries.items()} == {"threshold0.97": 0.97, "threshold0.99": 0.99}
    for name in entries:  # everything else is the default recipe's
        assert {k: v for k, v in entries[name]["settings"].items() if k not in ("threshold", "precision", "quick")} == {
            k: v for k, v in round_recipes.DEFAULT.items() if k != "threshold"}


def test_class_balanced_keeps_the_thresholds_count_shared_as_the_predictions_are():
    max_probs = torch.tensor([0.99, 0.98, 0.97, 0.95, 0.60, 0.62, 0.93, 0.70, 0.65, 0.55])
    pseudo_labels = torch.tensor([1, 1, 1, 1, 1, 1, 0, 0, 0, 0])  # 6 dogs, 4 cats predicted
    mask = round_recipes.class_balanced(0.9)(max_probs, 1, pseudo_labels)
    # 0.9 keeps 5 images, 4 of them dogs; shared 6:4, the 3 most confident dogs and the 2 most confident cats
    assert mask.tolist() == [True, True, True, False, False, False, True, True, False, False]
    assert int(mask.sum()) == int((max_probs > 0.9).sum())


def test_round_recipes_balanced_recipe_keeps_as_many_images_as_the_default(toy_runs, tmp_path, monkeypatch):
    seen = spy_on_self_train(monkeypatch, "selection")
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "default", "balanced", "--seeds", "0", "--json", str(saved)])
    assert seen[0] is None and callable(seen[1])
    entries = json.loads(saved.read_text())
    assert entries["balanced"]["settings"]["balanced"] is True and entries["default"]["settings"]["balanced"] is False
    # round 1 labels with the same baseline in both: the same number of images kept
    assert entries["balanced"]["seeds"][0]["kept"][0] == entries["default"]["seeds"][0]["kept"][0] > 0


def test_mixup_round_step_trains_on_mixed_images_and_their_mixed_one_hot_labels(monkeypatch):
    seen = {}
    real = soft_labels.soft_cross_entropy

    def spy(logits, targets):  # what the step trains against
        seen["targets"] = targets
        return real(logits, targets)

    monkeypatch.setattr(soft_labels, "soft_cross_entropy", spy)
    torch.manual_seed(0)
    xb, yb = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8), torch.tensor([0, 1] * 8)
    step = round_recipes.round_step("mixup", 2)
    loss, _ = step(round_recipes.h.make_model(2, seed=0), xb, yb)
    targets = seen["targets"]
    assert torch.allclose(targets.sum(1), torch.ones(16)) and (targets >= 0).all()
    assert ((targets > 0.01) & (targets < 0.99)).any()  # mixed with partners of the other class, not one-hot
    assert loss.requires_grad and loss.ndim == 0
    step.end_epoch(None, 1)  # nothing to relabel: a model that cannot predict is never asked
    assert round_recipes.round_step("weak", 2) is None


def test_round_recipes_mixup_recipe_trains_its_rounds_with_the_mixup_step(toy_runs, tmp_path, monkeypatch):
    seen = spy_on_self_train(monkeypatch, "step")
    saved = tmp_path / "recipes.json"
    round_recipes.main(["--recipes", "default", "mixup", "--seeds", "0", "--json", str(saved)])
    assert seen[0] is None and isinstance(seen[1], soft_labels.SoftMixupStep)
    assert json.loads(saved.read_text())["mixup"]["settings"]["augment"] == "mixup"


def test_plateau_teacher_benchmark_pairs_self_training_with_its_rounds_on_labelled_images_alone(toy_runs, tmp_path,
                                                                                              capsys):
    saved_to = tmp_path / "plateau.json"
    plateau_teacher.main(["--seeds", "0", "1", "--teacher-epochs", "3", "--round-budget", "0.5", "--json", str(saved_to)])
    out = capsys.readouterr().out
    assert re.search(r"^\s+1(\s+[\d.]+%){6}$", out, re.M)  # a seed: three arms, test and pool
    for key in ("test", "pool"):
        assert re.search(rf"^{key}: self-training − labelled only: [+-][\d.]+ ± [\d.]+ points "
                         rf"\(per seed [+-][\d.]+ / [+-][\d.]+\)$", out, re.M)
    saved = {p.name.split("-")[0] for p in toy_runs.glob("*.json")}
    assert saved == {"baseline", "selftraining", "labelledrounds"}  # every arm a cached run
    teachers = [json.loads(p.read_text()) for p in toy_runs.glob("baseline-*.json")]
    assert {t["settings"]["epochs"] for t in teachers} == {3}  # the teacher trained for --teacher-epochs
    saved = json.loads(saved_to.read_text())
    assert saved["settings"]["teacher_epochs"] == 3 and set(saved["seeds"]) == {"0", "1"}
    pairs = saved["differences"]["test: self-training − labelled only"]
    by_hand = [saved["seeds"][s]["self-training"]["test"] - saved["seeds"][s]["labelled only"]["test"] for s in "01"]
    assert pairs["per_seed"] == pytest.approx(by_hand)  # the paired difference, seed by seed


def _recipe(settings: dict, pool_after: list[float], quick: bool = False) -> dict:
    rows = [{"seed": seed, "seconds": 60.0, "pool_accuracy": [0.80, after], "test_accuracy": [0.80, after + 0.01],
             "rejected": [2] if after < 0.80 else []} for seed, after in enumerate(pool_after)]
    return {"settings": {**round_recipes.DEFAULT, **settings, "precision": "bf16", "quick": quick}, "seeds": rows}


def test_recipes_table_subtracts_the_default_seed_by_seed_and_names_what_changed():
    saved = {"default": _recipe({}, [0.81, 0.83]), "strong": _recipe({"augment": "strong", "guard": None}, [0.82, 0.79])}
    lines = recipes_table(saved).splitlines()
    assert lines[2] == "| default | – | +2.00 ± 1.41 | – | +3.00 ± 1.41 | – | 0 | 1.0 |"
    # strong: gains +2 and -1 against the default's +1 and +3: differences +1 and -4
    assert lines[3] == "| strong | guard off, augment strong | +0.50 ± 2.12 | -1.50 ± 3.54 | +1.50 ± 2.12 | -1.50 ± 3.54 | 1 | 1.0 |"
    assert "over 2 seeds (0, 1)" in lines[-1] and lines[-1].endswith("bf16.")
    with pytest.raises(SystemExit, match="quick-mode"):
        recipes_table({"default": _recipe({}, [0.81], quick=True)})


def _metrics(accepted: bool) -> dict:
    records = [{"round": 0, "n_train": 2000, "n_selected": 0, "pseudo_label_accuracy": None,
                "test_accuracy": 0.80, "seconds": 30.0},
               {"round": 1, "n_train": 6000, "n_selected": 4000, "pseudo_label_accuracy": 0.9,
                "test_accuracy": 0.82 if accepted else 0.80, "seconds": 60.0, "accepted": accepted}]
    return {"config": {"quick": False, "seed": 0, "epochs": 40, "rounds": 1},
            "results": {"records": records, "threshold": 0.9, "total_seconds": 90.0}}


def test_readme_table_marks_a_round_the_guard_rejected():
    lines = table(_metrics(accepted=True), {"config": {"quick": False}, "results": {"oracle_accuracy": 0.85}}).splitlines()
    assert lines[3] == "| round 1, threshold 0.9 | 6,000 | 4,000 (90.0%) | 82.0% | 60 s |"
    assert lines[4].startswith("| oracle") and "85.0%" in lines[4]
    assert "+2.0 points" in lines[-1]
    rejected = table(_metrics(accepted=False), None).splitlines()
    assert rejected[3].startswith("| round 1, threshold 0.9 (rejected by the guard) |")
    assert "+0.0 points" in rejected[-1]


def test_readme_table_refuses_a_quick_mode_oracle():
    """A quick run (CI, nbval) once put its short-trained oracle (79.0 %) in the README's table."""
    with pytest.raises(SystemExit, match="01_baseline.json comes from a quick-mode run"):
        table(_metrics(accepted=True), {"config": {"quick": True}, "results": {"oracle_accuracy": 0.79}})


def test_oracle_budget_benchmark_prints_one_row_per_budget_with_its_change(toy_runs, capsys):
    from benchmarks import oracle_budget
    oracle_budget.main(["--epochs", "2", "1"])
    rows = [l for l in capsys.readouterr().out.splitlines() if re.match(r"^\s+\d+ \|", l)]
    assert [int(r.split("|")[0]) for r in rows] == [1, 2]          # sorted by budget
    assert rows[0].split("|")[3].strip() == "" and re.match(r"^\s+[+-]\d+\.\d\s*$", rows[1].split("|")[3])
    assert len(list(toy_runs.glob("oracle-*.json"))) == 2


def test_seeds_table_reports_the_mean_gain_and_every_seed():
    from benchmarks.readme_results import seeds_table
    def seed_run(seed, base, final):
        return {"seed": seed, "total_seconds": 300.0,
                "config": {"quick": False, "threshold": 0.9, "rounds": 1, "round_budget": 1.0,
                           "from_scratch": False, "precision": "fp32"},
                "records": [{"round": 0, "test_accuracy": base}, {"round": 1, "test_accuracy": final, "accepted": True}]}
    text = seeds_table([seed_run(0, 0.80, 0.82), seed_run(1, 0.78, 0.77)])
    assert "| 0 | 80.0% | 82.0% | +2.00 | none | 5.0 min |" in text
    assert "mean +0.50 ± 2.12 points over 2 seeds, above the baseline on 1 of 2" in text


def test_leaderboard_table_ranks_methods_and_shows_each_seed():
    from benchmarks.readme_results import leaderboard
    def summary(method, acc, gain, pool, same_steps=None):
        return {"method": method, "notebook": "01", "test_accuracy": acc, "test_accuracy_std": 0.01,
                "paired_gain": gain, "paired_gain_std": 0.005, "pool_accuracy": pool, "budgets": 4.0,
                "precision": "fp32", "seconds": 120.0, "supervised_gain": same_steps, "supervised_gain_std": 0.0125}
    rows = [{"method": m, "seed": s, "test_accuracy": a} for m, per in
            (("baseline", (0.78, 0.80)), ("self-training", (0.80, 0.81))) for s, a in enumerate(per)]
    saved = {"config": {"quick": False, "seeds": [0, 1], "n_labeled": 2000},
             "results": {"rows": rows, "summary": [summary("baseline", 0.79, 0.0, None),
                                                    summary("self-training", 0.805, 0.015, 0.84, -0.0025)]}}
    text = leaderboard(saved).splitlines()
    assert text[2].startswith("| self-training |") and text[3].startswith("| baseline |")  # ranked
    assert "| +1.50 ± 0.50 | -0.25 ± 1.25 | 80.0 / 81.0 | 84.0% | 4.0 | 120 s |" in text[2]
    assert "| +0.00 ± 0.50 | – | 78.0 / 80.0 | – |" in text[3] and "fp32 for every row" in text[-1]
    with pytest.raises(SystemExit):
        leaderboard({**saved, "config": {**saved["config"], "quick": True}})


def test_predict_pool_benchmark_times_both_paths_and_compares_their_labels(tmp_path, monkeypatch, capsys):
    import tempfile
    from benchmarks import predict_pool
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    predict_pool.main(["--n", "64", "--size", "16", "--workers", "0", "1"])
    out = capsys.readouterr().out
    path = r"(pseudo_labeling\.py predict|Dataset \+ DataLoader, num_workers=\d) "
    rows = [l for l in out.splitlines() if re.match(path, l)]
    assert len(rows) == 3 and "num_workers=0" in rows[1] and "num_workers=1" in rows[2]
    assert re.fullmatch(r"pseudo_labeling\.py predict\s+[\d.]+\s+-\s+\d+ \(\d+\)\s+-\s+-", rows[0])
    for row, workers in zip(rows[1:], ("-", r"1 x \d+")):
        match = re.search(rf"\s[\d.]+\s+[\d.]+x\s+\d+ \(\d+\)\s+{workers}\s+([\d.]+)%$", row)
        assert match and float(match.group(1)) >= 95  # the same preprocessing gives the same labels
    assert re.search(r"^goal: >= 1\.5x the fastest DataLoader \(num_workers=[01]\): [\d.]+x, (met|not met); "
                     r"peak memory <= 2 GB: \d+ MB, (met|not met)$", out, re.M)
    assert list(tmp_path.iterdir()) == []  # the images and CSVs went with the temporary folder


def test_predict_batch_benchmark_prints_a_ratio_for_every_size(capsys):
    from benchmarks import predict_batch
    predict_batch.main(["--n", "40", "--sizes", "8", "16", "--against", "32", "--repeats", "1"])
    out = capsys.readouterr().out
    rows = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"^\s+(\d+)\s+[\d.]+\s+\d+\s+([\d.]+)x$", out, re.M)}
    assert sorted(rows) == [8, 16, 32] and rows[32] == 1.0  # the baseline size is timed too, at ratio 1


def test_paired_line_subtracts_each_seeds_own_gain_and_skips_seeds_only_one_file_holds():
    from benchmarks.readme_results import paired_line
    def seed_run(seed, base, final, budget, seconds):
        return {"seed": seed, "total_seconds": seconds, "config": {"round_budget": budget},
                "records": [{"round": 0, "test_accuracy": base}, {"round": 1, "test_accuracy": final}]}
    one = [seed_run(0, 0.80, 0.81, 1.0, 100.0), seed_run(1, 0.78, 0.80, 1.0, 100.0)]
    two = [seed_run(0, 0.80, 0.83, 2.0, 150.0), seed_run(1, 0.78, 0.79, 2.0, 170.0), seed_run(2, 0.7, 0.9, 2.0, 1.0)]
    line = paired_line(two, one)
    assert line.startswith("2 budgets a round minus 1 budget a round, seed by seed: +0.50 ± 2.12 points over 2 seeds")
    assert "(+2.00 / -1.00)" in line and "for 1.6 times the time" in line


def test_validation_curves_benchmark_prints_both_verdicts_for_every_run(toy_runs, capsys):
    from benchmarks import validation_curves
    validation_curves.main(["--seeds", "0", "1", "--precisions", "fp32", "--epochs", "2", "--n-val", "4"])
    rows = [l.split() for l in capsys.readouterr().out.splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [("fp32", "0"), ("fp32", "1")]
    for r in rows:
        rise, se = float(r[4]), float(r[5])
        assert rise >= 0 and se > 0 and r[6] == ("yes" if rise <= 0.01 else "no")
        assert r[7] == ("yes" if rise <= 2 * se else "no")


def test_quick_width_benchmark_times_both_widths_and_grades_their_quick_baselines(toy_runs, monkeypatch, capsys):
    from benchmarks import quick_width
    monkeypatch.setattr(quick_width.h, "course_data", lambda: runs.data_for(specs.BaselineRun()))
    monkeypatch.setattr(config, "QUICK", True)
    quick_width.main(["--epochs", "1", "--accuracy"])
    out = capsys.readouterr().out
    assert re.search(r"^\s+16\s+[\d.]+\s+[\d,]+$", out, re.M) and re.search(r"^\s+8\s+[\d.]+\s+[\d,]+$", out, re.M)
    assert re.search(r"width 8 takes [\d.]+x the time of width 16 an epoch", out)
    for width in (16, 8):
        assert re.search(rf"quick baseline, width {width}, seed 0: test accuracy [\d.]+ % on 16 test images; "
                         rf"[\d.]+ % of 32 pool images above 0\.9", out)
    widths = sorted(json.loads(p.read_text())["settings"]["width"] for p in toy_runs.glob("baseline-*.json"))
    assert widths == [8, 16]  # both through the run cache, each under its own key
    monkeypatch.setattr(config, "QUICK", False)
    with pytest.raises(SystemExit) as error:  # --accuracy compares quick mode's runs only
        quick_width.main(["--accuracy"])
    assert error.value.code == 2
