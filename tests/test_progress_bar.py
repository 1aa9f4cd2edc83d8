"""helpers.train's progress bar: one per training run, a widget in a notebook whose stored
plain text reads the finished state, and a bar a terminal erases when the run is done."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
from nbclient import NotebookClient

TINY_FIT = """\
import torch
from helpers import fit, make_model

generator = torch.Generator().manual_seed(0)
x = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=generator)
y = torch.arange(48) % 2
history = fit(make_model(width=4), x, y, epochs=3, batch_size=16, seed=0, desc="tiny")
print("epochs run:", len(history["epoch"]))
"""
FINISHED = re.compile(r"^tiny: 100%\|█+\| 3/3 \[")
WIDGET = "application/vnd.jupyter.widget-view+json"


def _run_notebook(source: str, tmp_path) -> nbformat.NotebookNode:
    """Execute a one-cell notebook in a fresh kernel, as nbconvert --execute would store it."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(source))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    return nb


def test_a_notebook_stores_one_bar_per_run_reading_its_finished_state(tmp_path):
    outputs = _run_notebook(TINY_FIT, tmp_path).cells[0].outputs
    bars = [out for out in outputs if WIDGET in out.get("data", {})]
    assert len(bars) == 1, f"expected one progress bar, got {len(bars)}: {outputs}"
    plain = bars[0]["data"]["text/plain"]
    assert FINISHED.match(plain), f"the stored bar does not read finished: {plain!r}"
    assert "0%|" not in plain.replace("100%|", "")
    printed = "".join(out.get("text", "") for out in outputs if out["output_type"] == "stream")
    assert "epochs run: 3" in printed


def test_a_terminal_bar_is_erased_when_the_run_is_done(tmp_path):
    # Under pseudo_labeling.py the log lines around a run must read cleanly: the bar's last
    # state is cleared from its line, so the next print starts on a clean line.
    script = TINY_FIT.replace('print("epochs run:"', 'print("after the run:"')
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=tmp_path,  # bytes: keep the "\r"s
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300, check=True)
    drawn = done.stderr.decode()
    assert "tiny:" in drawn and "/3 [" in drawn  # a bar was drawn
    assert drawn.rstrip(" ").endswith("\r"), "the finished bar was left on its line"
    assert done.stdout.decode() == "after the run: 3\n"
