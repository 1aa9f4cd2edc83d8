"""The student edition (tools/student_edition.py): in sync with notebooks/, no solutions, one stub per exercise."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from tools import student_edition

ROOT = Path(__file__).resolve().parent.parent

COLAB = "https://colab.research.google.com/github/owner/course/blob/main"
BADGE = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB}/notebooks/01_tiny.ipynb)"
EXERCISES = """## Summary

- A tiny notebook.

## Exercises

1. Count the cats.
2. Plot the dogs, in two ways:
   - as a histogram;
   - as a scatter plot.
3. A long exercise whose first line
   goes on to a second line, and a third
   with `code` in it.

Solutions: [solutions/01_solutions.ipynb](solutions/01_solutions.ipynb).

---
[Contents](../README.md) · **01 Tiny** · [Solutions](solutions/01_solutions.ipynb) · [02 Next →](02_next.ipynb)"""


def markdown(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": student_edition.lines_of(text)}


def code(cell_id: str, text: str) -> dict:
    return {"cell_type": "code", "execution_count": 7, "id": cell_id,
            "metadata": {"execution": {"iopub.execute_input": "2025-01-01T00:00:00Z"}, "tags": ["keep-me"]},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}],
            "source": student_edition.lines_of(text)}


def tiny_notebook(exercises: str = EXERCISES) -> dict:
    cells = [markdown("top", f"{BADGE} · [Contents](../README.md) · **01 Tiny** · [answers](solutions/01_solutions.ipynb)\n\n"
                             "# 01 · Tiny\n\nTry first; the worked answers are in [the solutions](solutions/)\n"
                             "later.\n\n[The answers, on their own line.](solutions/01_solutions.ipynb)"),
             code("c1", "print(42)"),
             markdown("end", exercises)]
    metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"},
                "widgets": {"state": {}}}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def course(tmp_path):
    """A fake checkout: a README, two notebooks (one with exercises) and a solutions folder."""
    (tmp_path / "README.md").write_text("# Course\n")
    notebooks = tmp_path / "notebooks"
    (notebooks / "solutions").mkdir(parents=True)
    (notebooks / "01_tiny.ipynb").write_text(json.dumps(tiny_notebook()))
    second = tiny_notebook("## Exercises\n\n1. Only one.\n\n---\n[← 01 Tiny](01_tiny.ipynb)")
    (notebooks / "02_next.ipynb").write_text(json.dumps(second))
    (notebooks / "solutions" / "01_solutions.ipynb").write_text(json.dumps(tiny_notebook()))
    return tmp_path


def student_copy(root: Path, name: str = "01_tiny.ipynb") -> dict:
    return json.loads((root / "student" / name).read_text(encoding="utf-8"))


def exercise_stubs(notebook: dict) -> list[str]:
    return ["".join(cell["source"]) for cell in notebook["cells"]
            if cell["cell_type"] == "code" and "NotImplementedError" in "".join(cell["source"])]


def test_the_committed_student_edition_is_in_sync_with_the_notebooks():
    stale = student_edition.check(ROOT)
    assert not stale, f"student/ is stale ({', '.join(stale)}): run `python tools/student_edition.py`"


def test_each_exercise_becomes_a_cell_that_raises_with_its_number(course):
    assert student_edition.main([], root=course) == 0
    notebook = student_copy(course)
    stubs = exercise_stubs(notebook)
    assert len(stubs) == 3
    for number, stub in enumerate(stubs, start=1):
        assert stub.startswith(f"# Exercise {number}: ")
        with pytest.raises(NotImplementedError, match=f"^Exercise {number}: "):
            exec(compile(stub, f"exercise-{number}", "exec"), {})
    assert "Count the cats." in stubs[0] and "A long exercise whose first line …" in stubs[2]
    # the stubs sit right after the exercise list, and the navigation line stays at the bottom
    kinds = [cell["cell_type"] for cell in notebook["cells"]]
    assert kinds == ["markdown", "code", "markdown", "code", "code", "code", "markdown"]
    assert "".join(notebook["cells"][2]["source"]).endswith("   with `code` in it.")
    assert "".join(notebook["cells"][-1]["source"]).startswith("---\n[Contents](../README.md) · **01 Tiny**")


def test_no_link_or_mention_of_the_solutions_is_left_and_they_are_not_copied(course):
    student_edition.main([], root=course)
    written = sorted(p.relative_to(course).as_posix() for p in (course / "student").rglob("*"))
    assert written == ["student/01_tiny.ipynb", "student/02_next.ipynb", "student/README.md"]
    for path in (course / "student").iterdir():
        assert "solutions/" not in path.read_text(encoding="utf-8"), path.name
    cells = ["".join(cell["source"]) for cell in student_copy(course)["cells"]]
    # the answers segment goes, and the Colab badge opens the student copy
    assert cells[0].startswith(BADGE.replace("/notebooks/", "/student/") + " · [Contents](../README.md) · **01 Tiny**\n\n")
    assert cells[0].endswith("the worked answers are in the solutions\nlater.")  # prose keeps its words
    assert cells[-1] == "---\n[Contents](../README.md) · **01 Tiny** · [02 Next →](02_next.ipynb)"
    assert "Solutions:" not in "".join(cells) and "\n\n\n" not in "".join(cells)


def test_outputs_counts_and_metadata_are_cleared_and_the_format_is_nbconvert_s(course):
    student_edition.main([], root=course)
    text = (course / "student" / "01_tiny.ipynb").read_text(encoding="utf-8")
    notebook = json.loads(text)
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code_cells and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code_cells)
    assert code_cells[0]["metadata"] == {"tags": ["keep-me"]}  # timings gone, tags kept
    assert notebook["metadata"] == {"kernelspec": tiny_notebook()["metadata"]["kernelspec"],
                                    "language_info": {"name": "python"}}
    assert [cell["id"] for cell in notebook["cells"]][:3] == ["top", "c1", "end"]
    nbformat.validate(nbformat.reads(text, as_version=4))
    assert text == json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def test_two_runs_are_byte_identical(course):
    student_edition.main([], root=course)
    first = {p.name: p.read_bytes() for p in (course / "student").iterdir()}
    (course / "student" / "01_tiny.ipynb").unlink()
    student_edition.main([], root=course)
    assert {p.name: p.read_bytes() for p in (course / "student").iterdir()} == first


def test_a_notebook_without_exercises_stops_with_one_line_naming_it(course, capsys):
    notebook = tiny_notebook("## Summary\n\n- nothing to do.")
    (course / "notebooks" / "02_next.ipynb").write_text(json.dumps(notebook))
    assert student_edition.main([], root=course) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: notebooks/02_next.ipynb: no '## Exercises' heading") and err.count("\n") == 1
    assert not (course / "student").exists()  # nothing written, not even the notebook that was fine


@pytest.mark.parametrize("exercises, problem", [
    ("## Exercises\n\nSome prose, no list.", "no numbered list"),
    ("## Exercises\n\n1. One.\n3. Three.", "numbered [1, 3]"),
    ("## Exercises\n\n1. One.\n\nA paragraph.\n\n2. Two.", "interrupted by 'A paragraph.'"),
])
def test_an_exercise_list_that_cannot_be_parsed_is_an_error(course, exercises, problem):
    (course / "notebooks" / "02_next.ipynb").write_text(json.dumps(tiny_notebook(exercises)))
    with pytest.raises(student_edition.EditionError, match=re.escape(problem)) as error:
        student_edition.build(course)
    assert str(error.value).startswith("notebooks/02_next.ipynb: ")


def test_a_link_that_would_not_resolve_from_student_is_an_error(course):
    notebook = tiny_notebook(EXERCISES.replace("02_next.ipynb", "figures/plot.png"))
    (course / "notebooks" / "01_tiny.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(student_edition.EditionError, match=re.escape("student/01_tiny.ipynb -> figures/plot.png")):
        student_edition.build(course)


def test_check_lists_stale_files_writes_nothing_and_a_rerun_removes_orphans(course, capsys):
    student_edition.main([], root=course)
    assert student_edition.main(["--check"], root=course) == 0
    notebook = tiny_notebook()
    notebook["cells"][1]["source"] = ["print(43)"]
    (course / "notebooks" / "01_tiny.ipynb").write_text(json.dumps(notebook))
    orphan = course / "student" / "03_gone.ipynb"
    orphan.write_text("{}")
    before = {p.name: p.read_bytes() for p in (course / "student").iterdir()}
    capsys.readouterr()
    assert student_edition.main(["--check"], root=course) == 1
    assert capsys.readouterr().out.splitlines()[1:] == ["  student/01_tiny.ipynb", "  student/03_gone.ipynb"]
    assert {p.name: p.read_bytes() for p in (course / "student").iterdir()} == before
    assert student_edition.main([], root=course) == 0
    assert not orphan.exists() and student_edition.check(course) == []
    assert not list((course / "student").glob(".*"))  # no temporary file left behind


def instructor_exercise_count(path: Path) -> int:
    """Numbered items under the notebook's '## Exercises' heading, counted without the tool."""
    text = "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]
                     if cell["cell_type"] == "markdown")
    section = text.split("## Exercises", 1)[1]
    return len(re.findall(r"^\d+\. ", section, re.M))


def test_every_student_notebook_has_one_stub_per_exercise_of_its_course_notebook():
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sources
    for source in sources:
        student = json.loads((ROOT / "student" / source.name).read_text(encoding="utf-8"))
        count = instructor_exercise_count(source)
        assert count >= 1 and len(exercise_stubs(student)) == count, source.name
