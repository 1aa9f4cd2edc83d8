"""pseudo_labeling.py: bad input exits with one clear line and touches nothing; a quick run end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "pseudo_labeling.py"


def run_script(*args, quick=True, cwd=ROOT):
    env = {**os.environ, "PSEUDO_QUICK": "1" if quick else "0"}
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=900)


def test_help_documents_every_setting():
    out = run_script("--help").stdout
    for flag in ("--data", "--n-labeled", "--threshold", "--rounds", "--epochs", "--width", "--seed", "--output",
                 "--control"):
        assert flag in out


@pytest.fixture
def previous_output(tmp_path):
    out = tmp_path / "outputs"
    out.mkdir()
    (out / "metrics.json").write_text('{"from": "an earlier run"}')
    return out


@pytest.mark.parametrize("args, message", [
    (["--threshold", "1.5"], "threshold must be a number in [0, 1)"),
    (["--n-labeled", "20000"], "n_labeled=20000 is more than the 10000 training images"),
    (["--data", "/no/such/folder"], "--data /no/such/folder is not a folder"),
    (["--rounds", "-1"], "--rounds must be 0 or more"),
])
def test_bad_input_exits_with_one_clear_line_and_overwrites_nothing(previous_output, args, message):
    result = run_script(*args, "--output", previous_output)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in previous_output.iterdir()) == ["metrics.json"]
    assert json.loads((previous_output / "metrics.json").read_text()) == {"from": "an earlier run"}


def test_a_folder_that_refuses_writes_is_one_clear_line_as_root_too(tmp_path, monkeypatch):
    # In this process, with the probe's write refused as a read-only folder refuses it (root can write anywhere).
    import contextlib
    import io
    import tempfile
    import types

    import helpers.io
    import pseudo_labeling

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(helpers.io, "tempfile", types.SimpleNamespace(NamedTemporaryFile=denied, mkstemp=tempfile.mkstemp))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = pseudo_labeling.main(["--output", str(tmp_path / "outputs")])
    assert code == 2 and out.getvalue() == "" and err.getvalue().count("\n") == 1
    assert err.getvalue().startswith(f"error: cannot write to the folder {tmp_path / 'outputs'} (Permission denied)")


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root can write anywhere; read-only folders cannot be tested as root")
def test_unwritable_output_folder_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_script("--output", locked / "outputs")
    assert result.returncode == 2 and "cannot write to the folder" in result.stderr


def test_output_path_that_is_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    result = run_script("--output", blocker)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot write to the folder") and len(result.stderr.strip().splitlines()) == 1
    assert blocker.read_text() == "keep me"


def test_quick_run_end_to_end_on_the_real_data(tmp_path):
    out = tmp_path / "outputs"
    result = run_script("--output", out, "--no-progress", "--control")
    assert result.returncode == 0, result.stderr
    for line in ("round 0 (baseline)", "round 1:", "round 2:", "control round 2:", "self-training minus control:",
                 "final test accuracy"):
        assert line in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy_vs_rounds.png", "confidence_histogram.png", "final_model.pt", "metrics.json"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["config"]["threshold"] == 0.9 and saved["config"]["quick"] is True
    records = saved["results"]["records"]
    assert [r["round"] for r in records] == [0, 1, 2]
    assert records[0]["n_train"] == 2000
    for record in records[1:]:
        assert record["n_train"] == 2000 + record["n_selected"]
        assert 0.5 < record["pseudo_label_accuracy"] <= 1.0
        assert 0.5 < record["test_accuracy"] <= 1.0  # better than a coin even in quick mode
    control = saved["results"]["control"]["records"]  # --control: the same rounds, labelled images only
    assert [r["round"] for r in control] == [0, 1, 2] and control[0]["test_accuracy"] == records[0]["test_accuracy"]
    assert all(r["n_selected"] == 0 and r["n_train"] == 2000 for r in control)
    model, meta = load_checkpoint(out / "final_model.pt")
    assert meta["test_accuracy"] == records[-1]["test_accuracy"]
    assert (out / "confidence_histogram.png").read_bytes()[:4] == b"\x89PNG"
