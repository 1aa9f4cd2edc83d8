"""helpers.specs and helpers.cache: every setting is in a run's key, a spec survives JSON, a saved
run is loaded only when it is whole and its spec unchanged, and the same spec trains the same run."""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, fields, is_dataclass, replace

import pytest
import torch

from helpers import cache, config, evaluate, fit, make_model, pseudo, runs, specs
from conftest import toy_course_data, toy_images

# Another valid value for each string setting; a new string field must be added here.
OTHER_STRING = {
    "precision": {"fp32": "bf16", "bf16": "fp32"},
    "augment": {"weak": "strong", "strong": "weak"},
    "rule": {"fixed": "flexmatch", "flexmatch": "freematch", "freematch": "fixed"},
    "teacher": {"other": "self", "self": "other"},
    "labels": {"classifier": "asked", "asked": "classifier"},
}
OTHER_INT = {"holdout": 400, "n_labeled": 1000}  # +1 for the others (seeds, epochs, widths, batch sizes)


def _other(name: str, value):
    """Another valid value for setting ``name``, of the same kind."""
    if isinstance(value, bool):
        return not value
    if value is None:  # an optional setting that is off (CurriculumRun's guard): turn it on
        return 0.1
    if isinstance(value, str):
        return OTHER_STRING[name][value]
    if isinstance(value, int):
        return OTHER_INT[name] if OTHER_INT.get(name, value) != value else value + 1
    if isinstance(value, float):
        return value / 2 if value else 0.5
    if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
        return (OTHER_STRING["augment"][value[0]],) + value[1:]  # the committee's views
    if isinstance(value, tuple) and value and all(isinstance(v, float) for v in value):
        return (value[0] / 2,) + value[1:]                      # curriculum fractions
    pytest.fail(f"no other value known for setting {name}={value!r}: teach _other about its type")


def _variants(spec, prefix: str = ""):
    """(``path``, spec with that one setting changed) for every setting, nested baselines included."""
    for f in fields(spec):
        value = getattr(spec, f.name)
        if is_dataclass(value):
            for path, changed in _variants(value, f"{prefix}{f.name}."):
                yield path, replace(spec, **{f.name: changed})
        else:
            yield prefix + f.name, replace(spec, **{f.name: _other(f.name, value)})


def _leaf_settings(settings: dict, prefix: str = "") -> set[str]:
    out = set()
    for name, value in settings.items():
        out |= _leaf_settings(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name}
    return out


def _through_json(spec):
    return cache.from_json(json.loads(json.dumps(cache.to_json(spec))))


def test_every_kind_of_run_has_a_spec():
    assert {cls.__name__ for cls in specs.SPECS} == {
        "BaselineRun", "OracleRun", "SelfTrainingRun", "LabelledRoundsRun", "CurriculumRun", "SoftLabelsRun", "FixMatchRun",
        "EnsembleRun", "TriTrainingRun", "DomainShiftRun", "CoTrainingRun", "GenerativeRun"}
    assert set(runs.RUNNERS) == set(specs.SPECS)


@pytest.mark.parametrize("cls", specs.SPECS, ids=lambda c: c.__name__)
def test_spec_round_trips_through_json(cls):
    for spec in [cls()] + [variant for _, variant in _variants(cls())]:
        again = _through_json(spec)
        assert again == spec and type(again) is cls
        assert cache.spec_key(again) == cache.spec_key(spec)
        for f in fields(spec):  # tuples stay tuples, nested specs stay specs (not lists and dicts)
            assert type(getattr(again, f.name)) is type(getattr(spec, f.name)), f.name


@pytest.mark.parametrize("cls", specs.SPECS, ids=lambda c: c.__name__)
def test_changing_any_one_setting_changes_the_key(cls):
    spec = cls()
    key = cache.spec_key(spec)
    assert re.fullmatch(rf"{cache.kind(spec)}-[0-9a-f]{{10}}", key)
    assert cache.spec_key(cls()) == key  # equal specs, equal keys
    keys = {key: "the defaults"}
    paths = []
    for path, variant in _variants(spec):
        assert variant != spec, path
        changed = cache.spec_key(variant)
        assert changed != key, f"{cls.__name__}.{path} is not part of the key"
        assert changed not in keys, f"{path} and {keys.get(changed)} give the same key"
        keys[changed] = path
        paths.append(path)
    # Every setting was walked, the nested baseline's too.
    assert set(paths) == _leaf_settings(asdict(spec)) and len(paths) == len(set(paths))
    if any(f.name == "baseline" for f in fields(spec)):
        assert {"baseline.seed", "baseline.width", "baseline.epochs"} <= set(paths)


def test_equal_specs_have_equal_keys():
    whole, decimal = specs.SelfTrainingRun(round_budget=2), specs.SelfTrainingRun(round_budget=2.0)
    assert whole == decimal
    assert cache.spec_key(whole) == cache.spec_key(decimal)


def test_the_kind_is_part_of_the_key():
    same_settings = specs.OracleRun(epochs=specs.BaselineRun().epochs)
    assert asdict(same_settings) == asdict(specs.BaselineRun())
    assert cache.spec_key(same_settings) != cache.spec_key(specs.BaselineRun())
    assert _through_json(same_settings) == same_settings and type(_through_json(same_settings)) is specs.OracleRun


def test_a_method_spec_takes_its_seed_from_its_baseline():
    spec = specs.with_seed(specs.SelfTrainingRun(), 5)
    assert spec.baseline.seed == 5 and specs.seed_of(spec) == 5
    assert specs.with_seed(specs.BaselineRun(), 5) == specs.BaselineRun(seed=5)
    ensemble = specs.with_seed(specs.EnsembleRun(), 2)
    teachers = specs.teacher_specs(ensemble)
    assert teachers[0] == ensemble.baseline  # the committee starts from the baseline itself
    assert [t.augment for t in teachers] == list(ensemble.views) == ["weak", "weak", "strong"]
    assert len({t.seed for t in teachers}) == 3
    # The leaderboard's seeds never share a teacher.
    seeds = [{t.seed for t in specs.teacher_specs(specs.with_seed(ensemble, s))} for s in (0, 1, 2)]
    assert not (seeds[0] & seeds[1] or seeds[0] & seeds[2] or seeds[1] & seeds[2])


# ------------------------------------------------------------------ get_or_run
TOY = specs.BaselineRun(width=4, epochs=1, batch_size=16, precision="fp32")


@pytest.fixture
def saved_runs(tmp_path, monkeypatch):
    """outputs/ in a temporary folder; returns its runs/ folder. The cache is told it runs on the
    CPU, whatever the machine has, so that these tests check the CPU's layout (``runs/`` and its
    ``THREADS`` file) on a GPU machine too; the GPU's folder has a test of its own."""
    monkeypatch.setattr(config, "OUTPUT_DIR", tmp_path / "outputs")
    monkeypatch.setattr(cache, "get_device", lambda: torch.device("cpu"))
    return cache.runs_dir()


class ToyRun:
    """A tiny model trained one epoch on toy images; counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, spec):
        def run():
            self.calls += 1
            x, y = toy_images(8, size=8)
            model = make_model(width=spec.width, seed=spec.seed)
            history = fit(model, x, y, epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, seed=spec.seed,
                          precision=spec.precision, progress=False)
            return {"test_accuracy": evaluate(model, x, y), "history": history, "call": self.calls,
                    "used": torch.tensor([1, 2])}, model
        return run


def _printed(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def _same_weights(a, b) -> bool:
    return all(torch.equal(p.cpu(), q.cpu()) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_the_pool_and_test_sizes_enter_the_key_only_when_set():
    """Added after the course's runs were saved: unset (full mode), they leave every key as it
    was, so the stored runs still load; set (quick mode), they are part of the key."""
    full = specs.BaselineRun(n_unlabeled=None, n_test=None, epochs=40, precision="bf16")
    assert cache.spec_key(full) == "baseline-6c9e661c49"  # the full-mode baseline's key before they existed
    assert "n_unlabeled" not in cache.to_json(full)["settings"] and cache.from_json(cache.to_json(full)) == full
    quick = replace(full, n_unlabeled=2000, n_test=1000)
    assert cache.to_json(quick)["settings"]["n_unlabeled"] == 2000 and cache.from_json(cache.to_json(quick)) == quick
    keys = {cache.spec_key(s) for s in (full, quick, replace(quick, n_unlabeled=3000), replace(quick, n_test=None))}
    assert len(keys) == 4
    selftraining = specs.SelfTrainingRun(baseline=full)
    assert cache.from_json(cache.to_json(selftraining)) == selftraining


def test_an_unchanged_spec_is_loaded_without_running(saved_runs, capsys):
    toy, key = ToyRun(), cache.spec_key(TOY)
    first = cache.get_or_run(TOY, toy(TOY))
    assert _printed(capsys) == [f"training {key} (no saved run)"]
    assert sorted(p.name for p in saved_runs.iterdir()) == ["THREADS", f"{key}.json", f"{key}.model.pt", f"{key}.pt"]
    assert first["spec"] == TOY and first["seconds"] > 0 and first["call"] == 1

    again = cache.get_or_run(TOY, toy(TOY))
    printed = _printed(capsys)
    assert toy.calls == 1
    assert len(printed) == 1 and printed[0].startswith(f"loaded {key} from ")
    assert again["call"] == 1 and again["seconds"] == first["seconds"]
    assert again["test_accuracy"] == first["test_accuracy"] and again["history"] == first["history"]
    assert torch.equal(again["used"], torch.tensor([1, 2])) and "settings" not in again
    assert again["spec"] == TOY and again["model"].arch["width"] == 4 and _same_weights(again["model"], first["model"])
    assert cache.load_run(TOY)["call"] == 1


def test_a_run_trained_on_a_gpu_is_saved_apart_and_never_serves_the_cpu(saved_runs, monkeypatch, capsys):
    """The device is not in the spec, yet it changes the numbers: each device has its own folder."""
    toy = ToyRun()
    cpu = torch.device("cpu")
    monkeypatch.setattr(cache, "get_device", lambda: cpu)
    assert cache.runs_dir() == config.OUTPUT_DIR / "runs"
    cache.get_or_run(TOY, toy(TOY))
    monkeypatch.setattr(cache, "get_device", lambda: torch.device("cuda"))
    assert cache.runs_dir() == config.OUTPUT_DIR / "runs-cuda"
    with pytest.raises(FileNotFoundError):  # the CPU's run is not this device's
        cache.load_run(TOY)
    monkeypatch.setattr(cache, "get_device", lambda: cpu)
    assert cache.load_run(TOY)["call"] == 1 and toy.calls == 1


def test_a_run_trained_with_another_thread_count_is_saved_apart_and_never_served(saved_runs, monkeypatch, capsys):
    """The thread count is not in the spec, yet it changes the numbers: outputs/runs belongs to
    the count its first run was trained with, and another count has a folder of its own."""
    monkeypatch.setattr(cache, "get_device", lambda: torch.device("cpu"))
    threads = {"n": 2}
    monkeypatch.setattr(cache.torch, "get_num_threads", lambda: threads["n"])
    toy, key = ToyRun(), cache.spec_key(TOY)
    cache.get_or_run(TOY, toy(TOY))
    assert (saved_runs / cache.THREADS_FILE).read_text() == "2\n" and cache.runs_threads() == 2

    threads["n"] = 1
    assert cache.runs_dir() == config.OUTPUT_DIR / "runs-1threads"
    with pytest.raises(FileNotFoundError):  # the two-thread run is not this process's
        cache.load_run(TOY)
    capsys.readouterr()
    one = cache.get_or_run(TOY, toy(TOY))
    assert _printed(capsys) == [f"training {key} (no saved run with 1 thread (outputs/runs holds runs trained "
                                f"with 2; a thread count gives numbers of its own))"]
    assert toy.calls == 2 and one["call"] == 2 and (config.OUTPUT_DIR / "runs-1threads" / f"{key}.json").exists()
    assert not (config.OUTPUT_DIR / "runs-1threads" / cache.THREADS_FILE).exists()  # its name says its count
    with monkeypatch.context() as m:  # a claim that raced another (it read no THREADS file) changes nothing
        m.setattr(cache, "runs_threads", lambda: None)
        cache._claim_threads()
    assert (saved_runs / cache.THREADS_FILE).read_text() == "2\n" and cache.runs_dir() == config.OUTPUT_DIR / "runs-1threads"
    assert not [p for p in saved_runs.iterdir() if p.name.endswith(".tmp")]

    threads["n"] = 2  # back to two threads: outputs/runs again, its run loaded, never the one-thread run
    assert cache.runs_dir() == saved_runs and cache.get_or_run(TOY, toy(TOY))["call"] == 1 and toy.calls == 2
    assert (saved_runs / cache.THREADS_FILE).read_text() == "2\n"


def test_a_run_another_process_is_training_is_waited_for_then_loaded(saved_runs):
    """Two notebooks (or parallel tests) that need the same run at once train it once: the
    second waits for the first's lock, then loads what it saved."""
    import threading
    toy, started, messages = ToyRun(), threading.Event(), {0: [], 1: []}
    def slow_run():
        started.set()
        time.sleep(0.5)
        return toy(TOY)()
    first = threading.Thread(target=lambda: cache.get_or_run(TOY, slow_run, log=messages[0].append))
    first.start()
    started.wait(5)
    second = cache.get_or_run(TOY, toy(TOY), log=messages[1].append)
    first.join()
    key = cache.spec_key(TOY)
    assert toy.calls == 1 and second["call"] == 1
    assert messages[0] == [f"training {key} (no saved run)"]
    assert messages[1][0] == f"waiting for {key}: another process is training it"
    assert messages[1][1].startswith(f"loaded {key} from ") and len(messages[1]) == 2
    assert sorted(p.name for p in saved_runs.iterdir()) == ["THREADS", f"{key}.json", f"{key}.model.pt", f"{key}.pt"]


def test_a_changed_setting_is_trained_and_says_what_changed(saved_runs, capsys):
    toy = ToyRun()
    cache.get_or_run(TOY, toy(TOY))
    longer = replace(TOY, epochs=2)
    capsys.readouterr()
    result = cache.get_or_run(longer, toy(longer))
    assert _printed(capsys) == [f"training {cache.spec_key(longer)} (spec changed: epochs 1 -> 2)"]
    assert toy.calls == 2 and result["call"] == 2 and result["history"]["epoch"] == [1, 2]
    assert cache.get_or_run(TOY, toy(TOY))["call"] == 1  # the first run is still there
    assert toy.calls == 2


def test_a_changed_baseline_setting_is_named_with_its_path(saved_runs, capsys):
    no_training = lambda: ({"answer": 1}, make_model(width=4))
    cache.get_or_run(specs.SelfTrainingRun(), no_training)
    other = specs.SelfTrainingRun(baseline=specs.BaselineRun(seed=1))
    capsys.readouterr()
    cache.get_or_run(other, no_training)
    assert _printed(capsys) == [f"training {cache.spec_key(other)} (spec changed: baseline.seed 0 -> 1)"]


@pytest.mark.parametrize("suffix", [".pt", ".model.pt"])
def test_a_truncated_file_is_trained_again_never_loaded(saved_runs, capsys, suffix):
    toy, key = ToyRun(), cache.spec_key(TOY)
    cache.get_or_run(TOY, toy(TOY))
    path = saved_runs / f"{key}{suffix}"
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])
    capsys.readouterr()
    result = cache.get_or_run(TOY, toy(TOY))
    printed = _printed(capsys)
    assert len(printed) == 1 and printed[0].startswith(f"training {key} (") and "unreadable" in printed[0]
    assert toy.calls == 2 and result["call"] == 2
    again = cache.get_or_run(TOY, toy(TOY))  # saved whole again
    assert _printed(capsys)[0].startswith("loaded") and again["call"] == 2 and toy.calls == 2


@pytest.mark.parametrize("missing", [".json", ".pt", ".model.pt"])
def test_a_missing_file_means_training_again(saved_runs, capsys, missing):
    toy, key = ToyRun(), cache.spec_key(TOY)
    cache.get_or_run(TOY, toy(TOY))
    (saved_runs / f"{key}{missing}").unlink()
    capsys.readouterr()
    assert cache.get_or_run(TOY, toy(TOY))["call"] == 2
    assert _printed(capsys)[0].startswith(f"training {key} (")
    if missing == ".json":
        with pytest.raises(FileNotFoundError):
            cache.load_run(replace(TOY, seed=9))


def test_a_saved_spec_that_is_not_this_one_is_not_served(saved_runs, capsys):
    toy, key = ToyRun(), cache.spec_key(TOY)
    cache.get_or_run(TOY, toy(TOY))
    (saved_runs / f"{key}.json").write_text(json.dumps(cache.to_json(replace(TOY, seed=9))))
    capsys.readouterr()
    assert cache.get_or_run(TOY, toy(TOY))["call"] == 2
    assert "unreadable" in _printed(capsys)[0]


def test_a_run_whose_saving_fails_is_not_marked_complete(saved_runs, monkeypatch):
    toy, key = ToyRun(), cache.spec_key(TOY)
    cache.get_or_run(TOY, toy(TOY))
    real = cache.atomic_write

    def fail_on_results(path, write):
        if path.name == f"{key}.pt":
            raise OSError("disk full")
        return real(path, write)

    monkeypatch.setattr(cache, "atomic_write", fail_on_results)
    model_file = saved_runs / f"{key}.model.pt"
    model_file.write_bytes(model_file.read_bytes()[:100])  # unreadable: the run is trained again
    with pytest.raises(OSError, match="disk full"):
        cache.get_or_run(TOY, lambda: ({"call": "new"}, make_model(width=4)), log=None)
    assert not (saved_runs / f"{key}.json").exists()  # the old results beside a new model: never served
    monkeypatch.setattr(cache, "atomic_write", real)
    assert cache.get_or_run(TOY, toy(TOY), log=None)["call"] == 2


# ------------------------------------------------------------------ the same spec, the same numbers
TOY_BASELINE = specs.BaselineRun(n_labeled=16, width=4, epochs=8, batch_size=16, lr=0.05, precision="fp32")
TOY_SPECS = [
    TOY_BASELINE,
    specs.SelfTrainingRun(baseline=TOY_BASELINE, threshold=0.5, rounds=2, round_budget=1.0, precision="fp32"),
    specs.LabelledRoundsRun(baseline=TOY_BASELINE, rounds=2, round_budget=1.0, precision="fp32"),
    specs.CurriculumRun(baseline=TOY_BASELINE, round_budget=1.0, precision="fp32"),
    specs.SoftLabelsRun(baseline=TOY_BASELINE, epochs=2, batch_size=16, min_labeled=4, precision="fp32"),
    specs.FixMatchRun(baseline=TOY_BASELINE, rule="flexmatch", threshold=0.5, epochs=2, batch_size=8,
                      precision="fp32"),
    specs.EnsembleRun(baseline=TOY_BASELINE, threshold=0.5, student_budget=0.5, precision="fp32"),
    specs.TriTrainingRun(baseline=TOY_BASELINE, threshold=0.5, student_budget=0.5, precision="fp32"),
    specs.DomainShiftRun(baseline=TOY_BASELINE, shift_size=8, adabn=True, threshold=0.5, round_budget=1.0,
                         precision="fp32"),
    specs.CoTrainingRun(baseline=TOY_BASELINE, per_class=4, round_budget=1.0, precision="fp32"),
    specs.GenerativeRun(baseline=TOY_BASELINE, n_per_class=8, latent=2, width=4, vae_epochs=2, threshold=0.0,
                        round_budget=1.0, precision="fp32"),
    specs.GenerativeRun(baseline=TOY_BASELINE, n_per_class=8, latent=2, width=4, vae_epochs=2, labels="asked",
                        threshold=0.0, round_budget=1.0, precision="fp32"),
    specs.GenerativeRun(baseline=TOY_BASELINE, n_per_class=0, round_budget=1.0, precision="fp32"),
]


def _numbers(value):
    """A run's results without its timings, tensors as lists: what must repeat exactly."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items() if k not in ("seconds", "model", "spec")}
    if isinstance(value, (list, tuple)):
        return [_numbers(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # nan != nan, but two runs that both kept nothing agree
    return value


def _run_in(folder, spec, monkeypatch, capsys):
    monkeypatch.setattr(config, "OUTPUT_DIR", folder)
    capsys.readouterr()
    result = runs.run(spec)
    assert f"training {cache.spec_key(spec)} (" in capsys.readouterr().out  # trained, not loaded
    return result


@pytest.mark.parametrize("spec", TOY_SPECS, ids=cache.kind)
def test_the_same_spec_gives_the_same_numbers(spec, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs, "data_for", lambda spec: toy_course_data())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    first = _run_in(tmp_path / "first", spec, monkeypatch, capsys)
    second = _run_in(tmp_path / "second", spec, monkeypatch, capsys)
    assert 0.0 <= first["test_accuracy"] <= 1.0 and first["spec"] == spec
    if "pseudo_label_accuracy" in first:  # the method kept pseudo-labels: its numbers are worth comparing
        assert 0.0 <= first["pseudo_label_accuracy"] <= 1.0
    assert _numbers(first) == _numbers(second)
    assert _same_weights(first["model"], second["model"])
    if isinstance(spec, specs.BaselineRun):  # and another seed gives other numbers: the check can fail
        other = _run_in(tmp_path / "other", specs.with_seed(spec, 1), monkeypatch, capsys)
        assert not _same_weights(first["model"], other["model"])


def test_the_labelled_only_control_takes_a_self_training_rounds_steps_and_seeds(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs, "data_for", lambda spec: toy_course_data())
    spec = specs.LabelledRoundsRun(baseline=TOY_BASELINE, rounds=2, round_budget=1.0, precision="fp32")
    control = _run_in(tmp_path, spec, monkeypatch, capsys)
    assert [r["round"] for r in control["records"]] == [0, 1, 2]
    assert control["steps"] == 2 * runs.baseline_steps(TOY_BASELINE)  # each round one baseline budget
    start = runs.baseline(TOY_BASELINE)
    assert control["records"][0]["test_accuracy"] == start["test_accuracy"]  # round 0 is the baseline
    assert not _same_weights(control["model"], start["model"])               # which it continued, not replaced
    seeds = []
    monkeypatch.setattr(pseudo, "fit", lambda *a, seed, **k: seeds.append(seed) or {"steps": [1]})
    runs.labelled_rounds(replace(spec, rounds=3))
    assert seeds == [TOY_BASELINE.seed + r for r in (1, 2, 3)]  # a self-training round r's seed


def test_the_domain_shift_control_trains_the_same_round_on_the_labelled_images_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs, "data_for", lambda spec: toy_course_data())
    spec = specs.DomainShiftRun(baseline=TOY_BASELINE, shift_size=8, adabn=True, threshold=0.5, round_budget=1.0,
                                precision="fp32")
    shifted = _run_in(tmp_path, spec, monkeypatch, capsys)
    control = runs.domain_shift(replace(spec, pseudo_labels=False))
    assert shifted["records"][1]["n_selected"] > 0 and control["records"][1]["n_selected"] == 0
    assert control["records"][1]["n_train"] == len(toy_course_data().y_labeled)  # the labelled images, nothing else
    assert control["steps"] == runs.baseline_steps(TOY_BASELINE)                  # one round of one budget
    for name in ("start_target_accuracy", "start_test_accuracy"):  # the same starting model, AdaBN included
        assert control[name] == shifted[name]
    assert math.isnan(control["pseudo_label_accuracy"])


@pytest.mark.parametrize("budgets, epochs", [(1.0, 40), (2.125, 80), (2.5, 100), (4.05625, 160), (4.986, 200)])
def test_the_supervised_control_trains_the_baseline_for_the_nearest_quarter_budget(budgets, epochs):
    base = specs.BaselineRun(seed=2, epochs=40)
    control = runs.supervised_control(base, budgets)
    assert control == replace(base, epochs=epochs)  # the same run but its length: 1 budget is the baseline itself



@pytest.mark.parametrize("budgets", [2.0, 4.0, 7.0])
def test_the_oracle_at_a_budget_trains_as_many_steps_on_every_image_of_its_split(monkeypatch, budgets):
    data = toy_course_data()
    monkeypatch.setattr(runs, "data_for", lambda spec: data)
    base = specs.BaselineRun(seed=3)
    oracle = runs.oracle_at_budget(base, budgets, budget_steps=640)
    steps_an_epoch = math.ceil((len(data.y_labeled) + len(data.y_unlabeled_hidden)) / oracle.batch_size)
    assert isinstance(oracle, specs.OracleRun) and oracle.seed == 3
    assert abs(oracle.epochs * steps_an_epoch - budgets * 640) <= steps_an_epoch / 2  # the nearest whole epoch

# ---------------------------------------------------------------- comparisons over seeds
def test_compare_seeds_pairs_each_seed_with_its_own_baseline(monkeypatch, capsys):
    base_acc = {0: 0.80, 1: 0.70, 2: 0.75}
    gains = {0: 0.02, 1: 0.01, 2: -0.01}
    budget = runs.baseline_steps(specs.BaselineRun())
    def fake_baseline(spec):  # trained longer, each seed's baseline gains a point a budget
        return {"test_accuracy": base_acc[spec.seed] + 0.01 * (spec.epochs / specs.BaselineRun().epochs - 1),
                "steps": budget * spec.epochs // specs.BaselineRun().epochs}
    monkeypatch.setattr(runs, "baseline", fake_baseline)
    monkeypatch.setattr(runs, "run", lambda spec: {"test_accuracy": base_acc[specs.seed_of(spec)] + gains[specs.seed_of(spec)],
                                                   "steps": 3 * budget, "spec": spec})
    (row,) = runs.compare_seeds({"method": specs.SelfTrainingRun()}, seeds=(0, 1, 2))
    assert row["gains"] == pytest.approx([0.02, 0.01, -0.01])
    assert row["gain"] == pytest.approx(0.02 / 3)
    assert row["gain_std"] == pytest.approx(0.015275, abs=1e-5)
    assert row["mean"] == pytest.approx((0.82 + 0.71 + 0.74) / 3)  # the unpaired mean, with the seeds' spread
    assert row["std"] > row["gain_std"] and not row["same_sign"]  # pairing removes the seeds' spread
    # The floor: each seed's baseline trained for the method's 4 budgets (its 3 plus the baseline's), 3 points up.
    assert row["budgets"] == 4.0 and row["supervised"] == pytest.approx({s: a + 0.03 for s, a in base_acc.items()})
    assert row["vs_supervised_per_seed"] == pytest.approx([-0.01, -0.02, -0.04])
    runs.show_comparison([row])
    out = capsys.readouterr().out
    assert "mixed signs: within noise" in out
    assert re.search(r"^method\s+4\.00\s+78\.0 ± 5\.0\s+-2\.33 ± 1\.53\s+-1\.00 -2\.00 -4\.00$", out, re.M)
    gains[2] = 0.03
    (row,) = runs.compare_seeds({"method": specs.SelfTrainingRun()}, seeds=(0, 1, 2))
    assert row["same_sign"] and row["gain"] == pytest.approx(0.02)
    gains[2] = 0.0  # a seed on which a guard kept the baseline: not a sign either way
    (row,) = runs.compare_seeds({"method": specs.SelfTrainingRun()}, seeds=(0, 1, 2))
    runs.show_comparison([row])
    assert not row["same_sign"] and "none below, some exactly 0" in capsys.readouterr().out


# ---------------------------------------------------------------- the committee's student guard
@pytest.mark.parametrize("reference, attempts", [(0.0, 1), (1.01, 3)])
def test_a_student_below_the_baselines_labelled_accuracy_is_retrained(reference, attempts, capsys):
    """A student whose labelled accuracy falls more than ``guard`` below the baseline's is trained
    again from another initialisation; if every attempt fails the previous model is kept. The
    steps count every attempt, and the log says why."""
    data = toy_course_data()
    spec = specs.EnsembleRun(baseline=TOY_BASELINE, threshold=0.5, student_budget=0.5, precision="fp32")
    mask = torch.ones(len(data.x_unlabeled), dtype=torch.bool)
    pseudo_labels = torch.zeros(len(data.x_unlabeled), dtype=torch.long)
    previous = make_model(2, TOY_BASELINE.width, seed=9)
    student, steps, tried = runs._student(data, mask, pseudo_labels, spec, 3, reference, previous)
    one = runs._student(data, mask, pseudo_labels, replace(spec, guard=None), 3, reference, previous)
    assert len(one[2]) == 1 and one[2][0]["accepted"] and one[0] is not previous  # no guard: one attempt, kept
    assert [a["seed"] for a in tried] == [3 + specs.RETRY_SEED_STRIDE * i for i in range(attempts)]
    assert steps == attempts * one[1]
    assert [a["accepted"] for a in tried] == [reference == 0.0] * attempts
    assert (student is previous) == (reference > 1)  # every attempt failed: the previous model stays
    log = capsys.readouterr().out
    assert log.count("rejected by the guard") == (attempts if reference > 1 else 0)
    assert ("keeping the previous model" in log) == (reference > 1)
