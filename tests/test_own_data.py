"""Your own images: --labeled/--unlabeled[/--test] end to end, the CSV, `predict`, and bad input
that stops with one `error:` line and leaves earlier outputs byte for byte as they were."""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import pseudo_labeling
from helpers import config, load_checkpoint, make_model, own_data, plots, save_checkpoint
from conftest import write_image

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("blue", "green", "red")  # sorted, as the class folders are read
CHANNEL = {"red": 0, "green": 1, "blue": 2}
TINY = ["--epochs", "8", "--rounds", "1", "--round-budget", "1", "--width", "4", "--image-size", "16",
        "--guard", "-1", "--threshold", "0.6", "--no-progress"]
RUN_FILES = {"final_model.pt", "pseudo_labels.csv", "metrics.json", "confidence_histogram.png",
             "accuracy_vs_rounds.png", "log.txt"}


def colour_image(channel: int, rng, size=(20, 24)) -> np.ndarray:
    """A noisy image whose `channel` is bright: the classes are learnable in a few steps."""
    pixels = np.full((*size, 3), 40.0)
    pixels[..., channel] = 220
    return np.clip(pixels + rng.normal(0, 25, pixels.shape), 0, 255)


def make_labeled(root: Path, classes=CLASSES, n=12, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    for name in classes:
        for i in range(n):
            write_image(root / name / f"{i}.png", colour_image(CHANNEL.get(name, 0), rng))
    return root


def make_unlabeled(root: Path, seed=1) -> Path:
    """Flat and nested images of every colour mode and odd names, plus files that are not images."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(("red", "green", "blue")):
        for i in range(3):
            write_image(root / f"{name}_{i}.png", colour_image(c, rng))
        write_image(root / "sub" / "deeper" / f"{name} photo.JPG", colour_image(c, rng))
    write_image(root / "gray.png", colour_image(0, rng)[..., 0], mode="L")
    write_image(root / "alpha.png", np.dstack([colour_image(2, rng), np.full((20, 24), 180)]), mode="RGBA")
    Image.fromarray(colour_image(1, rng).astype(np.uint8)).convert("P").save(root / "sub" / "palette.gif")
    (root / "notes.txt").write_text("not an image")
    (root / "sub" / "list.csv").write_text("a,b\n")
    return root


def image_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.suffix.lower() in {".png", ".jpg", ".gif"})


def call(*args) -> tuple[int, str, str]:
    """pseudo_labeling.main in this process (cheap); returns the exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = pseudo_labeling.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These models are tiny: one thread trains them fastest, and two threads on a busy
    two-core machine spend their time waiting for each other (seconds instead of 0.1 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real command-line run on a labelled and an unlabelled folder (no --test)."""
    root = tmp_path_factory.mktemp("own")
    labeled, unlabeled = make_labeled(root / "labeled"), make_unlabeled(root / "unlabeled")
    (labeled / "red" / "readme.txt").write_text("skipped, not an error")
    out = root / "out"
    env = {**os.environ, "PSEUDO_QUICK": "1", "PSEUDO_DATA_DIR": str(root / "data"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "pseudo_labeling.py"), "--labeled", labeled,
                             "--unlabeled", unlabeled, "--output", out, *TINY],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    return {"root": root, "labeled": labeled, "unlabeled": unlabeled, "out": out, "stdout": result.stdout}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """The decoded-image cache in tmp_path, never in the checkout's data/ folder."""
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    return tmp_path


def test_the_model_works_from_32_to_128_pixels():
    model = make_model(3, width=4).eval()
    for size in (32, 64, 128):
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 3)


def test_held_out_layout_writes_every_output_and_says_what_it_scored(trained):
    out = trained["out"]
    assert {p.name for p in out.iterdir()} == RUN_FILES  # no staging folder or temporary file left
    log = (out / "log.txt").read_text()
    assert log.strip() == trained["stdout"].strip()
    for line in ("skipped 2 file(s) that are not images", "skipped 1 file(s) that are not images",
                 "held-out validation split", "pseudo-label accuracy n/a",
                 "33 labelled images to train on", "(3 of the 36 labelled images"):
        assert line in log
    saved = json.loads((out / "metrics.json").read_text())["results"]
    assert "held-out validation split" in saved["evaluated_on"] and saved["classes"] == list(CLASSES)
    assert all("validation_accuracy" in r and "test_accuracy" not in r for r in saved["records"])
    assert all(r["pseudo_label_accuracy"] is None for r in saved["records"])
    _, meta = load_checkpoint(out / "final_model.pt")
    assert meta["classes"] == list(CLASSES) and meta["image_size"] == 16
    assert (out / "confidence_histogram.png").read_bytes()[:4] == b"\x89PNG"


def test_csv_has_one_row_per_unlabelled_image_and_columns_that_hold_what_they_say(trained):
    rows = read_csv(trained["out"] / "pseudo_labels.csv")
    assert list(rows[0]) == list(own_data.CSV_COLUMNS)
    assert sorted(r["path"] for r in rows) == image_files(trained["unlabeled"])  # no .txt, no .csv
    assert "sub/deeper/red photo.JPG" in {r["path"] for r in rows}
    records = json.loads((trained["out"] / "metrics.json").read_text())["results"]["records"]
    for row in rows:
        confidence, selected, first = float(row["confidence"]), int(row["selected"]), int(row["first_selected_round"])
        assert row["pseudo_label"] in CLASSES
        assert 1 / 3 - 1e-4 <= confidence <= 1 and len(row["confidence"].split(".")[1]) == 4
        if abs(confidence - 0.6) > 1e-4:  # the file's 4 decimals cannot decide a tie
            assert selected == int(confidence > 0.6)
        assert first in (-1, 1)
    # Round 1 selected exactly the images whose first_selected_round is 1.
    n_first = sum(int(r["first_selected_round"]) == 1 for r in rows)
    assert n_first == (records[1]["n_selected"] if len(records) > 1 else 0)


def test_control_trains_the_same_rounds_on_the_labelled_images_alone_and_says_so(isolated):
    labeled, unlabeled = make_labeled(isolated / "labeled"), make_unlabeled(isolated / "unlabeled")
    out = isolated / "out"
    code, stdout, stderr = call("--labeled", labeled, "--unlabeled", unlabeled, "--output", out, "--control", *TINY)
    assert code == 0, stderr
    assert "control round 1:" in stdout and "self-training minus control:" in stdout
    assert "test accuracy" not in stdout  # a held-out split is called what it is, in the control's lines too
    metrics = json.loads((out / "metrics.json").read_text())["results"]
    control, rounds = metrics["control"]["records"], metrics["records"]
    assert [r["round"] for r in control] == [0, 1]
    assert control[0]["validation_accuracy"] == rounds[0]["validation_accuracy"]  # the same baseline
    assert all(r["n_selected"] == 0 and r["n_train"] == rounds[0]["n_train"] for r in control)
    assert all("test_accuracy" not in r for r in control)


def test_predict_labels_the_same_files_as_the_final_model(trained, isolated):
    target = isolated / "predictions.csv"
    code, out, err = call("predict", "--model", trained["out"] / "final_model.pt", "--images", trained["unlabeled"],
                          "--output", target, "--no-progress")
    assert code == 0, err
    assert "skipped 2 file(s) that are not images" in out and str(target) in out
    trained_rows = {r["path"]: r for r in read_csv(trained["out"] / "pseudo_labels.csv")}
    rows = read_csv(target)
    assert list(rows[0]) == list(own_data.CSV_COLUMNS)
    assert sorted(r["path"] for r in rows) == sorted(trained_rows)
    for row in rows:
        before = trained_rows[row["path"]]
        assert row["pseudo_label"] == before["pseudo_label"]
        assert float(row["confidence"]) == pytest.approx(float(before["confidence"]), abs=2e-4)
        assert int(row["first_selected_round"]) == (0 if row["selected"] == "1" else -1)  # no rounds: 0 or -1
        if abs(float(row["confidence"]) - 0.6) > 1e-4:  # the run's threshold, read from its checkpoint (4 decimals)
            assert row["selected"] == str(int(float(row["confidence"]) > 0.6)) == before["selected"]
    assert "above the threshold 0.6;" in out
    code, _, err = call("predict", "--model", trained["out"] / "final_model.pt", "--images", trained["unlabeled"],
                        "--output", target)
    assert code == 2 and err.startswith("error: ") and "--overwrite" in err


def test_chunks_decode_the_same_pixels_as_the_whole_folder(isolated):
    listing = own_data.list_folder(make_unlabeled(isolated / "unlabeled"), labeled=False, what="--unlabeled")
    whole = own_data.load_folder(listing, 16, progress=False)
    chunks = list(own_data.decode_chunks(listing, 16, chunk=4))
    assert [len(c["paths"]) for c in chunks] == [4, 4, 4, 3]
    assert torch.equal(torch.cat([c["x"] for c in chunks]), whole.x)
    assert [p for c in chunks for p in c["paths"]] == whole.paths
    assert own_data.chunk_size(16) == own_data.MAX_CHUNK and own_data.chunk_size(256) < own_data.MAX_CHUNK


def test_predict_streams_chunks_and_writes_what_one_pass_would(trained, isolated, monkeypatch):
    model = trained["out"] / "final_model.pt"
    code, _, err = call("predict", "--model", model, "--images", trained["unlabeled"], "--output",
                        isolated / "one_pass.csv", "--no-progress")
    assert code == 0, err
    monkeypatch.setattr(own_data, "MAX_CHUNK", 4)  # 15 images: 4 + 4 + 4 + 3
    sizes, real_chunks = [], own_data.decode_chunks
    monkeypatch.setattr(own_data, "decode_chunks",
                        lambda *a, **k: (sizes.append(len(c["paths"])) or c for c in real_chunks(*a, **k)))
    code, out, err = call("predict", "--model", model, "--images", trained["unlabeled"], "--output",
                          isolated / "chunks.csv", "--no-progress")
    assert code == 0, err
    assert sizes == [4, 4, 4, 3] and "labelled 15 images" in out
    one_pass, chunked = read_csv(isolated / "one_pass.csv"), read_csv(isolated / "chunks.csv")
    assert [r["path"] for r in chunked] == [r["path"] for r in one_pass]
    for a, b in zip(chunked, one_pass):
        assert a["pseudo_label"] == b["pseudo_label"] and abs(float(a["confidence"]) - float(b["confidence"])) <= 1e-4


def test_predict_stops_at_a_corrupt_image_unless_told_to_skip_and_leaves_no_partial_csv(trained, isolated,
                                                                                         monkeypatch):
    images = shutil.copytree(trained["unlabeled"], isolated / "images")
    (images / "zz_broken.png").write_bytes(b"\x89PNG this is not really a png")  # sorted last: in the last chunk
    monkeypatch.setattr(own_data, "MAX_CHUNK", 4)
    target, model = isolated / "predictions.csv", trained["out"] / "final_model.pt"
    code, out, err = call("predict", "--model", model, "--images", images, "--output", target, "--no-progress")
    assert code == 2 and err.startswith("error: 1 image file(s)") and "zz_broken.png" in err and "--skip-corrupt" in err
    assert sorted(p.name for p in isolated.iterdir()) == ["images"]  # no CSV, no temporary file
    code, out, err = call("predict", "--model", model, "--images", images, "--output", target, "--no-progress",
                          "--skip-corrupt")
    assert code == 0, err
    assert "skipped 1 corrupt image(s)" in out and "zz_broken.png" in out
    assert len(read_csv(target)) == len(image_files(trained["unlabeled"]))


def test_predict_refuses_a_bad_threshold_and_a_folder_where_nothing_decodes(tmp_path, isolated):
    model = tmp_path / "m.pt"
    save_checkpoint(make_model(width=4), model)
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(b"\x89PNG not really")
    code, _, err = call("predict", "--model", model, "--images", tmp_path / "imgs", "--threshold", "1.5")
    assert code == 2 and err.count("\n") == 1 and "threshold must be a number in [0, 1)" in err
    code, _, err = call("predict", "--model", model, "--images", tmp_path / "imgs", "--skip-corrupt",
                        "--output", tmp_path / "p.csv", "--no-progress")
    assert code == 2 and "none of the images in --images" in err and not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("args, message", [
    (["--round-budget", "0"], "--round-budget must be above 0"),
    (["--epochs", "0"], "--epochs must be 1 or more"),
    (["--width", "0"], "--width must be 1 or more"),
    (["--n-labeled", "0"], "--n-labeled must be 1 or more"),
    (["--image-size", "64"], "--image-size is for your own images"),
])
def test_more_bad_settings_stop_with_one_line_before_any_work(tmp_path, args, message):
    code, out, err = call(*args, "--output", tmp_path / "out")
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_first_selected_round_skips_rejected_rounds_and_keeps_the_earliest():
    m = lambda *bits: torch.tensor(bits, dtype=torch.bool)
    first = own_data.first_selected_round([m(1, 0, 0, 1), m(1, 1, 0, 0), m(1, 1, 1, 0)], [True, False, True], 4)
    assert first.tolist() == [1, 3, 3, 1]  # round 2 was rejected: images 1 and 2 date from round 3
    assert own_data.first_selected_round([], [], 3).tolist() == [-1, -1, -1]


def test_holdout_split_holds_out_a_tenth_of_each_class_at_least_one_and_disjoint():
    y = torch.tensor([0] * 20 + [1] * 10 + [2] * 2)
    train, val = own_data.holdout_split(y, ("a", "b", "c"), seed=0)
    assert torch.bincount(y[val], minlength=3).tolist() == [2, 1, 1]
    assert sorted(train.tolist() + val.tolist()) == list(range(32))  # disjoint and complete
    assert torch.equal(val, own_data.holdout_split(y, ("a", "b", "c"), seed=0)[1])
    with pytest.raises(own_data.DataError, match="class c has only 1 labelled image"):
        own_data.holdout_split(torch.tensor([0, 0, 1]), ("a", "c"), seed=0)


def test_predict_without_a_model_is_one_clear_line(tmp_path):
    code, _, err = call("predict", "--model", tmp_path / "missing.pt", "--images", tmp_path)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: no checkpoint")


def test_test_folder_layout_and_a_duplicate_warning(isolated):
    labeled = make_labeled(isolated / "labeled")
    test = make_labeled(isolated / "test", n=3, seed=5)
    unlabeled = isolated / "unlabeled"
    rng = np.random.default_rng(2)
    for i in range(6):
        write_image(unlabeled / f"{i}.png", colour_image(i % 3, rng))
    shutil.copy(labeled / "red" / "0.png", unlabeled / "copy_of_red_0.png")
    code, out, err = call("--labeled", labeled, "--unlabeled", unlabeled, "--test", test,
                          "--output", isolated / "out", *TINY)
    assert code == 0, err
    assert err.count("\n") == 1 and err.startswith("warning: 1 unlabelled image(s)") and "copy_of_red_0.png" in err
    assert "scored on the --test set (9 images)" in out and "36 labelled images to train on" in out
    assert err.strip() in (isolated / "out" / "log.txt").read_text()
    records = json.loads((isolated / "out" / "metrics.json").read_text())["results"]["records"]
    assert all("test_accuracy" in r for r in records)
    assert len(read_csv(isolated / "out" / "pseudo_labels.csv")) == 7


def test_skip_corrupt_leaves_them_out_with_a_count(isolated):
    labeled, unlabeled = make_labeled(isolated / "labeled"), make_unlabeled(isolated / "unlabeled")
    (unlabeled / "broken.png").write_bytes(b"\x89PNG this is not really a png")
    code, out, err = call("--labeled", labeled, "--unlabeled", unlabeled, "--output", isolated / "out",
                          "--skip-corrupt", *TINY)
    assert code == 0, err
    assert "skipped 1 corrupt image(s)" in out and "broken.png" in out
    paths = {r["path"] for r in read_csv(isolated / "out" / "pseudo_labels.csv")}
    assert "broken.png" not in paths and len(paths) == len(image_files(unlabeled)) - 1


def _bad_input(case: str, root: Path, monkeypatch) -> tuple[list, str]:
    """Folders (and arguments) for one kind of bad input, and the words its error must hold."""
    labeled, unlabeled = root / "labeled", root / "unlabeled"
    make_unlabeled(unlabeled)
    make_labeled(labeled, classes=("red",) if case == "one_class" else CLASSES)
    args = ["--labeled", labeled, "--unlabeled", unlabeled]
    if case == "empty_class":
        shutil.rmtree(labeled / "green")
        (labeled / "green").mkdir()
        (labeled / "green" / "notes.txt").write_text("no images here")
    elif case == "empty_unlabeled":
        shutil.rmtree(unlabeled)
        (unlabeled / "sub").mkdir(parents=True)
        (unlabeled / "sub" / "notes.txt").write_text("no images here")
    elif case == "corrupt":
        (unlabeled / "sub" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    elif case == "test_classes":
        args += ["--test", make_labeled(root / "test", classes=("blue", "green", "yellow"), n=2)]
    elif case == "memory":
        monkeypatch.setattr(own_data, "available_memory", lambda: 20_000)
    elif case == "no_unlabeled":
        args = args[:2]
    elif case == "with_data":
        args += ["--data", root]
    messages = {"one_class": "only one class folder", "empty_class": "green has no images",
                "empty_unlabeled": "no images in", "corrupt": "sub/broken.jpg", "small": "--image-size must be",
                "large": "--image-size must be", "test_classes": "differ from those of --labeled",
                "memory": "a smaller --image-size", "no_unlabeled": "go together", "with_data": "cannot be combined"}
    sizes = {"small": "7", "large": "257"}
    return args + [*TINY, "--image-size", sizes.get(case, "16")], messages[case]


@pytest.mark.parametrize("case", ["one_class", "empty_class", "empty_unlabeled", "corrupt", "small", "large",
                                  "test_classes", "memory", "no_unlabeled", "with_data"])
def test_bad_input_is_one_error_line_and_overwrites_nothing(case, isolated, monkeypatch):
    args, message = _bad_input(case, isolated, monkeypatch)
    previous = isolated / "out"
    previous.mkdir()
    (previous / "metrics.json").write_text('{"from": "an earlier run"}')
    (previous / "pseudo_labels.csv").write_text("path\nold.png\n")
    before = snapshot(previous)
    code, out, err = call(*args, "--output", previous, "--overwrite")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert snapshot(previous) == before


def test_bad_input_from_the_command_line_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "pseudo_labeling.py"), "--labeled", tmp_path,
                             "--unlabeled", tmp_path, "--image-size", "300"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: --image-size must be between 8 and 256 pixels, not 300")
    assert result.stderr.count("\n") == 1


def test_memory_error_says_how_big_and_what_to_change(tmp_path, monkeypatch):
    pool = own_data.Listing(tmp_path, "--unlabeled", [], [(tmp_path / "x.png", 0)] * 10_000, 0)
    monkeypatch.setattr(own_data, "available_memory", lambda: 2 * 10_000 * 3 * 32 * 32)
    own_data.check_memory([pool], 32)  # exactly fits in half the available memory
    with pytest.raises(own_data.DataError, match=r"10000 in --unlabeled\) would take 123 MB decoded at 64 px.*"
                                                 r"a smaller --image-size \(at most 32\)"):
        own_data.check_memory([pool], 64)


def test_rerun_into_a_used_folder_is_refused_and_changes_nothing(trained, isolated):
    before = snapshot(trained["out"])
    code, out, err = call("--labeled", trained["labeled"], "--unlabeled", trained["unlabeled"],
                          "--output", trained["out"], *TINY)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "already holds a previous run" in err and "--overwrite" in err
    assert snapshot(trained["out"]) == before


@pytest.mark.parametrize("where", ["csv", "plot"])
def test_an_interrupted_write_leaves_the_previous_outputs_whole(trained, isolated, monkeypatch, where):
    out = isolated / "out"
    shutil.copytree(trained["out"], out)
    before = snapshot(out)
    if where == "csv":  # the disk fills up after two rows of the CSV
        real_rows = own_data.csv_rows

        def two_rows_then_full(*args, **kwargs):
            rows = real_rows(*args, **kwargs)
            yield next(rows)
            yield next(rows)
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(own_data, "csv_rows", two_rows_then_full)
    else:  # a plot fails after the model, the CSV and the metrics were written
        def fail(*args, **kwargs):
            raise OSError("the plot could not be written")

        monkeypatch.setattr(plots, "save_figure", fail)
    code, _, err = call("--labeled", trained["labeled"], "--unlabeled", trained["unlabeled"],
                        "--output", out, "--overwrite", *TINY)
    assert code == 2 and err.startswith("error: ")
    assert snapshot(out) == before  # every previous file as it was, nothing half-written left behind

