"""torchrun: two CPU processes (gloo) train and label one run's folders; one process is untouched."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from helpers import distributed, load_checkpoint, make_model, own_data
from test_own_data import RUN_FILES, call, image_files, make_labeled, make_unlabeled, read_csv

ROOT = Path(__file__).resolve().parent.parent


def test_one_process_is_left_exactly_as_it_was():
    """Without torchrun every helper is the identity: fit's and predict's numbers cannot move."""
    assert not distributed.init() and not distributed.active() and distributed.is_main()
    model = make_model(width=4)
    assert distributed.wrap(model) is model
    def plan():
        return [torch.arange(3), torch.arange(3, 5)]
    assert distributed.split_batches(plan) is plan
    assert distributed.shard(10) == (0, 10) and distributed.sum_over_ranks(1.5, 2) == (1.5, 2)
    rows = torch.rand(4, 2)
    assert distributed.gather(rows) is rows and distributed.describe() == ""


def test_predict_under_torchrun_is_refused_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = call("predict", "--model", tmp_path / "model.pt", "--images", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "not torchrun" in err


def test_more_processes_than_gpus_is_refused_by_rank_0_too(tmp_path, monkeypatch):
    """torchrun with 2 processes on a 1-GPU machine: rank 0 (the one that prints) must see the
    problem itself, before it waits for a rank that cannot join (seen on an H100 machine)."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    def must_not_join(*args, **kwargs):
        raise AssertionError("joined the process group despite too few GPUs")
    monkeypatch.setattr(dist, "init_process_group", must_not_join)
    with pytest.raises(ValueError, match="2 processes on this machine, which has 1 GPU"):
        distributed.init()
    code, _, err = call("--labeled", tmp_path, "--unlabeled", tmp_path)  # the script: one line, exit 2
    assert code == 2 and err.count("\n") == 1 and "--nproc_per_node=1" in err


def _cannot_start() -> str | None:
    """Why torchrun could not start two gloo processes here, or None."""
    if not dist.is_available() or not dist.is_gloo_available():
        return "this torch build has no torch.distributed with the gloo backend"
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
    except OSError as err:
        return f"no local port for torchrun's rendezvous ({err})"
    return None


def test_torchrun_with_two_processes_trains_and_labels_every_image_once(tmp_path):
    reason = _cannot_start()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    labeled, unlabeled = make_labeled(tmp_path / "labeled"), make_unlabeled(tmp_path / "unlabeled")
    out = tmp_path / "out"
    # Two CPU processes (gloo) also on a machine with one GPU, where NCCL would need two.
    env = {**os.environ, "PSEUDO_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1",
           "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(ROOT / "pseudo_labeling.py"), "--labeled", labeled, "--unlabeled", unlabeled, "--output", out,
         "--epochs", "1", "--rounds", "1", "--width", "4", "--image-size", "16", "--threshold", "0.4",
         "--no-progress"], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    if result.returncode != 0 and any(s in result.stderr for s in ("EADDRINUSE", "address already in use",
                                                                     "RendezvousConnectionError")):
        print(f"skipped: torchrun could not start\n{result.stderr[-2000:]}")
        pytest.skip("torchrun could not start its rendezvous here")
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("baseline: 1 epochs") == 1  # rank 1 printed nothing
    assert "device: cpu x 2 processes (gloo)" in result.stdout
    assert {p.name for p in out.iterdir()} == RUN_FILES

    rows = read_csv(out / "pseudo_labels.csv")
    assert list(rows[0]) == list(own_data.CSV_COLUMNS)
    assert sorted(r["path"] for r in rows) == image_files(unlabeled)  # one row per image, none twice
    saved = torch.load(out / "final_model.pt", weights_only=True)["state_dict"]
    assert not any(key.startswith("module.") for key in saved)  # the plain model, not the DDP wrapper
    model, meta = load_checkpoint(out / "final_model.pt")
    assert meta["image_size"] == 16

    # The gathered slices are in the files' order: one process labelling the folder agrees row by row.
    code, _, err = call("predict", "--model", out / "final_model.pt", "--images", unlabeled, "--output",
                        tmp_path / "one_process.csv", "--no-progress")
    assert code == 0, err
    alone = {r["path"]: r for r in read_csv(tmp_path / "one_process.csv")}
    for row in rows:
        assert row["pseudo_label"] == alone[row["path"]]["pseudo_label"]
        assert abs(float(row["confidence"]) - float(alone[row["path"]]["confidence"])) <= 2e-4
