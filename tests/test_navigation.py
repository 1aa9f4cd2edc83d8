"""tools/navigation.py: the navigation lines and the Colab cell of every notebook, on the repository
and on a tiny course in tmp_path; the Colab cell run against a fake Colab; the course installed
without a checkout, as on Colab; the Makefile's commands against the README's."""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/pseudo-labeling-course/pseudo-labeling-course"


def _load_navigation():
    spec = importlib.util.spec_from_file_location("navigation", ROOT / "tools" / "navigation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["navigation"] = module  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


navigation = _load_navigation()


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def _first_code_cell(path: Path) -> dict:
    return next(cell for cell in _cells(path) if cell["cell_type"] == "code")


# ---------------------------------------------------------------- the repository itself
def test_every_notebook_has_current_navigation_and_colab_cell():
    stale = [str(p.relative_to(ROOT)) for p in navigation.stale_files(ROOT)]
    assert not stale, f"navigation out of date in {stale}: run  python tools/navigation.py"


def test_the_repository_url_is_read_from_pyproject():
    assert navigation.repository_url(ROOT / "pyproject.toml") == REPOSITORY
    first = ROOT / "notebooks" / "00_setup_and_data.ipynb"
    assert f"{REPOSITORY.replace('github.com', 'colab.research.google.com/github')}/blob/main/notebooks/" \
           "00_setup_and_data.ipynb" in _text(_cells(first)[0]).split("\n")[0]


# ---------------------------------------------------------------- a tiny course in tmp_path
def _notebook(*cells: tuple[str, str], outputs=None) -> dict:
    """An nbformat 4.5 notebook as nbconvert writes it, from (cell_type, source) pairs."""
    made = []
    for i, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell{i}", "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell = {"cell_type": "code", "execution_count": i, "id": f"cell{i}", "metadata": {},
                    "outputs": outputs or [], "source": cell["source"]}
        made.append(cell)
    return {"cells": made, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def _write(path: Path, notebook: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


README = """# A course

## Quick start

| [not a notebook](notebooks/99_elsewhere.ipynb) | a table outside the course section |

## The course

| notebook | the idea |
|---|---|
| [00 First steps](notebooks/00_first.ipynb) | a |
| [01 Middle ground](notebooks/01_middle.ipynb) | b |
| [02 The end](notebooks/02_end.ipynb) | c |
| [13 Not written yet](notebooks/13_later.ipynb) | d |

## Results
"""


@pytest.fixture
def course(tmp_path):
    """Three notebooks with today's hand-written lines, two solutions, README and pyproject."""
    (tmp_path / "README.md").write_text(README, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[project.urls]\nRepository = "https://github.com/someone/fork"\n')
    nb = tmp_path / "notebooks"
    _write(nb / "00_first.ipynb", _notebook(
        ("markdown", "[Contents](../README.md) · **00 First steps** · [01 Middle ground →](01_middle.ipynb)\n\n"
                     "# 00 · First steps, 继续训练模型"),
        ("code", "x = 1"),
        ("markdown", "## Exercises\n\n1. Try.\n\n---\n"
                     "[Contents](../README.md) · **00 First steps** · [01 Middle ground →](01_middle.ipynb)")))
    _write(nb / "01_middle.ipynb", _notebook(
        ("markdown", "# 01 · Middle, no navigation yet"),
        ("code", "print('hi')")), )
    _write(nb / "02_end.ipynb", _notebook(
        ("markdown", "[← 01 Middle ground](01_middle.ipynb) · **02 The end**\n\n# 02 · The end"),
        ("code", "y = 2"),
        ("markdown", "Solutions: [solutions/02_solutions.ipynb](solutions/02_solutions.ipynb).\n\n---\n"
                     "[← 01 Middle ground](01_middle.ipynb) · **02 The end**")))
    _write(nb / "solutions" / "00_solutions.ipynb", _notebook(
        ("markdown", "[← 00 First steps](../00_first.ipynb)\n\n# Solutions to notebook 00"),
        ("code", "import helpers"),
        ("markdown", "**Answer.** It depends."),
        ("code", "answer = 42"), outputs=[{"name": "stdout", "output_type": "stream", "text": ["42\n"]}]))
    _write(nb / "solutions" / "02_solutions.ipynb", _notebook(
        ("markdown", "[← 02 The end](../02_end.ipynb)\n\n# Solutions to notebook 02"),
        ("code", "z = 3")))
    return tmp_path


def _top_and_bottom(path: Path) -> tuple[str, str]:
    cells = _cells(path)
    markdown = [_text(c) for c in cells if c["cell_type"] == "markdown"]
    return markdown[0].split("\n")[0], markdown[-1].split("\n")[-1]


def test_lines_of_first_middle_and_last_notebook(course):
    navigation.update(course)
    nb = course / "notebooks"
    badge = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             "(https://colab.research.google.com/github/someone/fork/blob/main/notebooks/{})")
    contents = "[Contents](../README.md#the-course)"
    assert _top_and_bottom(nb / "00_first.ipynb") == (
        f"{badge.format('00_first.ipynb')} · {contents} · [01 Middle ground →](01_middle.ipynb)",
        f"{contents} · [01 Middle ground →](01_middle.ipynb)")
    middle = f"[← 00 First steps](00_first.ipynb) · {contents} · [02 The end →](02_end.ipynb)"
    assert _top_and_bottom(nb / "01_middle.ipynb") == (f"{badge.format('01_middle.ipynb')} · {middle}", middle)
    assert _top_and_bottom(nb / "02_end.ipynb")[1] == f"[← 01 Middle ground](01_middle.ipynb) · {contents}"


def test_solution_lines_link_neighbours_their_notebook_and_the_contents(course):
    navigation.update(course)
    solutions = course / "notebooks" / "solutions"
    top, bottom = _top_and_bottom(solutions / "00_solutions.ipynb")
    assert top.endswith("/blob/main/notebooks/solutions/00_solutions.ipynb) · " + bottom)
    assert bottom == ("[Back to 00 First steps](../00_first.ipynb) · [Contents](../../README.md#the-course)"
                      " · [Solutions 02 →](02_solutions.ipynb)")  # the next solution on disk, not 01
    assert _top_and_bottom(solutions / "02_solutions.ipynb")[1] == (
        "[← Solutions 00](00_solutions.ipynb) · [Back to 02 The end](../02_end.ipynb) · "
        "[Contents](../../README.md#the-course)")


def test_old_lines_are_replaced_and_nothing_else_is_touched(course):
    before = {p: _cells(p) for p in (course / "notebooks").rglob("*.ipynb")}
    navigation.update(course)
    first = _cells(course / "notebooks" / "00_first.ipynb")
    assert [c["id"] for c in first] == ["cell0", "colab-setup", "cell1", "cell2"]
    assert _text(first[0]).split("\n")[1:] == ["", "# 00 · First steps, 继续训练模型"]
    assert _text(first[3]).split("\n")[:-1] == ["## Exercises", "", "1. Try.", "", "---"]
    middle = _cells(course / "notebooks" / "01_middle.ipynb")  # had no line: one put on top, a cell at the end
    assert _text(middle[0]).split("\n")[1:] == ["", "# 01 · Middle, no navigation yet"]
    assert middle[-1]["id"] == "navigation" and "\n" not in _text(middle[-1])
    solution = _cells(course / "notebooks" / "solutions" / "00_solutions.ipynb")
    # the answer cell is not suitable for the bottom line: a cell of its own is added after the code
    assert [c["id"] for c in solution] == ["cell0", "colab-setup", "cell1", "cell2", "cell3", "navigation"]
    for path, old_cells in before.items():  # every other line and cell, in every file, as it was
        kept = {c["id"]: c for c in _cells(path)}
        first_markdown = next(c["id"] for c in old_cells if c["cell_type"] == "markdown")
        for cell in old_cells:
            old_lines, new_lines = _text(cell).split("\n"), _text(kept[cell["id"]]).split("\n")
            without_source = lambda c: {k: v for k, v in c.items() if k != "source"}
            assert without_source(kept[cell["id"]]) == without_source(cell)
            if cell["id"] == first_markdown:
                old_body = old_lines[1:] if navigation.is_navigation_line(old_lines[0]) else ["", *old_lines]
                assert new_lines[1:] == old_body, f"{path.name}: {cell['id']} changed"
            elif navigation.is_navigation_line(old_lines[-1]):
                assert new_lines[:-1] == old_lines[:-1], f"{path.name}: {cell['id']} changed"
            else:
                assert new_lines == old_lines, f"{path.name}: {cell['id']} changed"


def test_second_run_changes_nothing_and_the_layout_is_nbformats(course):
    written = navigation.update(course)
    assert len(written) == 5
    texts = {p: p.read_bytes() for p in (course / "notebooks").rglob("*.ipynb")}
    assert navigation.update(course) == [] and navigation.stale_files(course) == []
    assert {p: p.read_bytes() for p in texts} == texts
    raw = (course / "notebooks" / "00_first.ipynb").read_text(encoding="utf-8")
    assert "继续训练模型" in raw and raw.endswith("}\n") and raw.startswith('{\n "cells": [\n  {\n')
    assert raw == json.dumps(json.loads(raw), indent=1, ensure_ascii=False) + "\n"


def test_check_lists_stale_files_and_writes_nothing(course, capsys):
    texts = {p: p.read_bytes() for p in (course / "notebooks").rglob("*.ipynb")}
    assert navigation.main(["--check", "--root", str(course)]) == 1
    out = capsys.readouterr().out
    assert "stale: notebooks/01_middle.ipynb" in out and "stale: notebooks/solutions/02_solutions.ipynb" in out
    assert {p: p.read_bytes() for p in texts} == texts
    assert navigation.main(["--root", str(course)]) == 0
    assert navigation.main(["--check", "--root", str(course)]) == 0


def test_a_renamed_title_in_the_readme_makes_the_check_fail(course):
    navigation.update(course)
    readme = course / "README.md"
    readme.write_text(readme.read_text().replace("[01 Middle ground]", "[01 The middle]"))
    stale = {p.relative_to(course).as_posix() for p in navigation.stale_files(course)}
    # the neighbours that link to it by title; solutions link to each other by number
    assert stale == {"notebooks/00_first.ipynb", "notebooks/02_end.ipynb"}
    navigation.update(course)
    assert "[01 The middle →](01_middle.ipynb)" in _top_and_bottom(course / "notebooks" / "00_first.ipynb")[1]


def test_a_moved_or_edited_colab_cell_is_put_back(course):
    navigation.update(course)
    path = course / "notebooks" / "02_end.ipynb"
    notebook = json.loads(path.read_text())
    colab = notebook["cells"].pop(1)
    colab["source"] = ["# NBVAL_IGNORE_OUTPUT\n", "# On Google Colab: an old version\n", "pass"]
    colab["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["pip says hi\n"]}]
    notebook["cells"].insert(3, colab)
    _write(path, notebook)
    assert navigation.stale_files(course) == [path]
    navigation.update(course)
    cells = _cells(path)
    assert [c["id"] for c in cells].count("colab-setup") == 1
    assert _first_code_cell(path)["id"] == "colab-setup" and _first_code_cell(path)["outputs"] == []
    assert _text(_first_code_cell(path)) == navigation.colab_cell_source("https://github.com/someone/fork")


def test_a_notebook_missing_from_the_table_is_one_clear_error(course, capsys):
    _write(course / "notebooks" / "03_new.ipynb", _notebook(("markdown", "# 03")))
    with pytest.raises(navigation.NavigationError, match=r"notebooks/03_new.ipynb is not in the course table"):
        navigation.stale_files(course)
    assert navigation.main(["--root", str(course)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: notebooks/03_new.ipynb") and err.count("\n") == 1


@pytest.mark.parametrize("pyproject, message", [
    ('[project]\nname = "x"\n', "has no \\[project.urls\\] Repository"),
    ('[project.urls]\nRepository = "https://gitlab.com/a/b"\n', "must look like https://github.com/OWNER/REPO"),
])
def test_a_bad_repository_url_is_one_clear_error(course, pyproject, message):
    (course / "pyproject.toml").write_text(pyproject)
    with pytest.raises(navigation.NavigationError, match=message):
        navigation.stale_files(course)


def test_a_solution_without_its_notebook_is_an_error(course):
    _write(course / "notebooks" / "solutions" / "07_solutions.ipynb", _notebook(("markdown", "# 07")))
    with pytest.raises(navigation.NavigationError, match="07_solutions.ipynb has no notebook 07"):
        navigation.stale_files(course)


def test_a_file_rewritten_by_someone_else_meanwhile_is_not_overwritten(course):
    path = course / "notebooks" / "01_middle.ipynb"
    changes = navigation.planned(course)
    now, wanted = changes[path]
    path.write_text(now.replace("no navigation yet", "re-executed meanwhile"))
    assert navigation.write_atomically(path, now, wanted) is False
    assert "re-executed meanwhile" in path.read_text()
    assert not list(path.parent.glob(".*.tmp"))
    navigation.update(course)  # plans again from the new text, and keeps it
    assert "re-executed meanwhile" in path.read_text() and navigation.stale_files(course) == []


# ---------------------------------------------------------------- the Colab cell, run
def _run_colab_cell(source: str, monkeypatch, on_colab: bool) -> list:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append((command, kwargs)))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab cell>", "exec"), {})
    return calls


@pytest.mark.parametrize("notebook", ["00_setup_and_data.ipynb", "solutions/15_solutions.ipynb"])
def test_the_stored_colab_cell_installs_the_course_on_colab_only(notebook, monkeypatch, capsys):
    cell = _first_code_cell(ROOT / "notebooks" / notebook)
    source = _text(cell)
    assert source.startswith("# NBVAL_IGNORE_OUTPUT\n")
    imported = {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module for node in ast.walk(ast.parse(source))
                                            if isinstance(node, ast.ImportFrom)}
    assert imported == {"sys", "importlib", "subprocess"}  # not helpers: Colab does not have it yet
    assert _run_colab_cell(source, monkeypatch, on_colab=False) == []
    assert capsys.readouterr() == ("", "")
    calls = _run_colab_cell(source, monkeypatch, on_colab=True)
    assert calls == [([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                       f"pseudo-labeling-course @ git+{REPOSITORY}"], {"check": True})]


# ---------------------------------------------------------------- the course without a checkout
INSTALLED_RUN = textwrap.dedent("""
    import pickle, sys
    from pathlib import Path
    import numpy as np
    import torchvision.datasets.utils as tv_utils
    import helpers
    from helpers import config

    def fake_download(url, download_root, **kwargs):  # CIFAR-10's python batches, 20 images each
        folder = Path(download_root) / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(folder / name, "wb") as f:
                pickle.dump({b"data": np.zeros((20, 3072), np.uint8), b"labels": list(range(10)) * 2}, f)

    tv_utils.download_and_extract_archive = fake_download
    data = helpers.load_cats_dogs()
    print(Path(helpers.__file__).parent.parent)
    print(config.PROJECT_ROOT, config.DATA_DIR, config.OUTPUT_DIR, sep="\\n")
    print(len(data.y_train), len(data.y_test), data.source)
""")


def test_installed_without_a_checkout_data_and_outputs_go_to_the_working_folder(tmp_path):
    # As on Colab: helpers in a site-packages folder with no pyproject.toml beside it, run from
    # another folder (Colab's /content), with no ../shared/data and no data environment variables.
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "helpers", site / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    content = tmp_path / "content"
    content.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PSEUDO_", "CATDOG_"))}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", INSTALLED_RUN], cwd=content, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    package, project, data_dir, output_dir, counts = out.stdout.strip().splitlines()[-5:]
    assert Path(package) == site  # the copy, not this checkout
    assert (Path(project), Path(data_dir), Path(output_dir)) == (content, content / "data", content / "outputs")
    exported = content / "data" / "cifar10-catdog"
    assert counts.split()[:2] == ["20", "4"] and str(exported) in counts  # 2 cats + 2 dogs in each of 5 batches
    for split, n in (("train", 10), ("test", 2)):
        for animal in ("cat", "dog"):
            assert len(list((exported / split / animal).glob("*.png"))) == n


# ---------------------------------------------------------------- the Makefile
def _make(*args: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True,
                          text=True, check=True).stdout


def _awk_program(text: str) -> str:
    return re.search(r"awk '([^']*)' README.md", text).group(1)


def test_make_test_runs_the_readme_test_command_as_ci_does():
    ci = (ROOT / ".ci" / "run").read_text()
    extract = next(line for line in ci.splitlines() if line.startswith("test_command=$(awk"))
    from_ci = subprocess.run(["bash", "-c", f"cd {ROOT} && {extract} && echo \"$test_command\""],
                             capture_output=True, text=True, check=True).stdout.strip()
    readme = (ROOT / "README.md").read_text()
    after_marker = readme[readme.index("<!-- test-command -->"):].splitlines()[1:]
    from_readme = next(line for line in after_marker if line and not line.startswith("```"))
    assert from_ci == from_readme
    assert _make("test-command").strip() == from_readme
    # the same extraction as CI's, not a copy of the command that could drift from the README
    assert _awk_program(_make("-n", "test")) == _awk_program(ci)
    assert "pytest" not in (ROOT / "Makefile").read_text().split("\ntest:")[1].split("\n\n")[0]


def test_make_notebooks_is_the_readme_command_and_help_lists_every_target():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "nbconvert --to notebook --execute" in line)
    assert command in _make("-n", "notebooks")
    listing = _make()  # help is the default target
    for target in ("setup", "test", "notebooks", "navigation", "clean", "student", "site", "browser-test"):
        assert f"\n  {target} " in "\n" + listing, f"make help does not list {target}"
    removals = [line for line in _make("-n", "clean").splitlines() if "rm " in line]
    assert any("outputs/quick" in line for line in removals)
    assert not any("data" in line or "outputs " in line or line.endswith("outputs") for line in removals)
