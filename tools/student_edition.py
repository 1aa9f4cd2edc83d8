"""Generate the student edition: student/ holds each course notebook without outputs or solutions.

Instructors keep notebooks/ (run, with outputs, and notebooks/solutions/); students get
student/: the same notebooks with outputs cleared, every link into solutions/ removed, and one
code cell per exercise that raises NotImplementedError until the student writes an answer.

    python tools/student_edition.py           # (re)write student/ from notebooks/
    python tools/student_edition.py --check   # exit 1 and list the stale files; writes nothing

Only the standard library: it runs with any Python 3.10+, without the course installed.
"""
from __future__ import annotations

import argparse
import json
import os
import posixpath
import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "notebooks"
STUDENT = "student"
COMMAND = "python tools/student_edition.py"

# "## Exercises" (or "## 12.8 Exercises"), then items "1. text" with indented continuation lines.
EXERCISES_HEADING = re.compile(r"^#{1,6}\s+(?:[\d.]+\s+)?Exercises\s*#*\s*$")
ITEM = re.compile(r"^(\d+)[.)]\s+(\S.*)$")
# A path into solutions/, written as a link target or in the text ("notebooks/solutions/" too).
MENTIONS_SOLUTIONS = re.compile(r"(?<![\w-])solutions/")
# A line given to the solutions ("Solutions: [...](...)"), dropped whole.
SOLUTIONS_LINE = re.compile(r"^\W*solutions?\b", re.IGNORECASE)
# The separators of a navigation line: "[← 04 …](…) · **05 …** · [06 … →](…)".
NAV_SEPARATOR = re.compile(r"(\s+[·•|]\s+)")
LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
HTML_ANCHOR = re.compile(r"<a\s[^>]*href\s*=\s*[\"']([^\"']*)[\"'][^>]*>(.*?)</a>", re.IGNORECASE)
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
# A web address of a course notebook (an "Open in Colab" badge, a GitHub link): the student
# edition opens its own copy, not the instructor's.
HOSTED_NOTEBOOK = re.compile(r"(/blob/[^/\s()]+/)notebooks/(\d\d_[^/\s()]+\.ipynb)")
EXTERNAL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # https:, mailto:, attachment:, data:
DEFAULT_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

README = f"""# Student edition

This folder is the course for students: every notebook of `notebooks/` without its outputs and
without its solutions, where each exercise has a code cell that raises `NotImplementedError`
until you replace it with your own answer, so that running all cells stops at the first
exercise left to do. It is generated from `notebooks/` by `{COMMAND}`
(`{COMMAND} --check` says whether it is up to date), so do not edit
these files: changes belong in `notebooks/`, and the command writes them here again.
"""


class EditionError(Exception):
    """A source notebook the edition cannot be made from; the message is one line for the user."""


def lines_of(text: str) -> list[str]:
    """A cell's source as nbformat stores it: lines that keep their newline, the last without."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def text_of(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def source_notebooks(root: Path) -> list[Path]:
    notebooks = sorted((root / SOURCE).glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise EditionError(f"no notebooks/NN_*.ipynb under {root}; run this from the course's checkout")
    return notebooks


def without_solution_segments(line: str, alone: bool) -> str | None:
    """The line with its references to solutions/ removed, or None when nothing of it is left.

    A navigation line loses only its segments that point into solutions/; a line given to the
    solutions (a paragraph of its own, "Solutions: ...", nothing but links) goes whole; a link
    inside a longer paragraph keeps its words and loses its target.
    """
    parts = NAV_SEPARATOR.split(line)
    if len(parts) > 1 and not line.lstrip().startswith("|"):  # a navigation line, not a table row
        segments, separators = parts[0::2], parts[1::2]
        kept = [j for j, segment in enumerate(segments) if not MENTIONS_SOLUTIONS.search(segment)]
        if not kept:
            return None
        return segments[kept[0]] + "".join(separators[j - 1] + segments[j] for j in kept[1:])
    if alone or SOLUTIONS_LINE.match(line) or not HTML_ANCHOR.sub("", LINK.sub("", line)).strip(" \t.,;:·-"):
        return None
    line = LINK.sub(lambda m: m[1] if MENTIONS_SOLUTIONS.search(m[2]) else m[0], line)
    return HTML_ANCHOR.sub(lambda m: m[2] if MENTIONS_SOLUTIONS.search(m[1]) else m[0], line)


def drop_solution_links(text: str) -> str:
    """Markdown with every link into solutions/ gone, and no double blank line where one was."""
    lines = text.split("\n")
    kept: list[str] = []
    dropped = skip_blank = False
    for i, line in enumerate(lines):
        if skip_blank and not line.strip():
            skip_blank = False
            continue
        skip_blank = False
        if not MENTIONS_SOLUTIONS.search(line):
            kept.append(line)
            continue
        alone = not (kept and kept[-1].strip()) and not (i + 1 < len(lines) and lines[i + 1].strip())
        replacement = without_solution_segments(line, alone)
        if replacement is not None:
            kept.append(replacement)
        else:  # a blank line before the dropped one makes the blank line after it redundant
            dropped = True
            skip_blank = not kept or not kept[-1].strip()
    return "\n".join(kept).strip("\n") if dropped else "\n".join(kept)


def split_exercises(text: str, name: str) -> tuple[str, list[tuple[int, str, bool]], str]:
    """The cell's text up to the end of the exercise list, the exercises, and what follows.

    An exercise is (number, first line, whether more lines follow). A list item continues over
    indented lines (sub-bullets, wrapped text) and over lines that follow it without a blank line.
    """
    lines = text.split("\n")
    heading = next(i for i, line in enumerate(lines) if EXERCISES_HEADING.match(line))
    first = next((i for i in range(heading + 1, len(lines)) if ITEM.match(lines[i])), None)
    if first is None:
        raise EditionError(f"{name}: the Exercises section holds no numbered list ('1. ...'); add one in notebooks/")
    items: list[list] = []  # [number, first line, number of lines]
    end, after_blank = len(lines), False
    for i in range(first, len(lines)):
        line, item = lines[i], ITEM.match(lines[i])
        if item:
            items.append([int(item[1]), item[2].strip(), 1])
        elif not line.strip():
            after_blank = True
            continue
        elif line[0].isspace() or not after_blank:
            items[-1][2] += 1
        else:
            end = i
            break
        after_blank = False
    tail = "\n".join(lines[end:])
    if any(ITEM.match(line) for line in lines[end:]):
        raise EditionError(f"{name}: the exercise list is interrupted by {lines[end].strip()[:50]!r}; "
                           "indent that line under its exercise in notebooks/")
    numbers = [number for number, _, _ in items]
    if numbers != list(range(1, len(items) + 1)):
        raise EditionError(f"{name}: exercises are numbered {numbers}, expected 1 to {len(items)}; renumber them in notebooks/")
    head = "\n".join(lines[:end]).rstrip()
    return head, [(number, first_line, count > 1) for number, first_line, count in items], tail.strip("\n")


def exercise_cell(number: int, first_line: str, continues: bool) -> dict:
    """A code cell that names the exercise and fails until the student replaces it."""
    summary = first_line.replace("**", "").replace("__", "")
    if continues and not summary.endswith((".", "?", "!", ":")):
        summary += " …"
    message = json.dumps(f"Exercise {number}: replace this line with your solution", ensure_ascii=False)
    source = f"# Exercise {number}: {summary}\nraise NotImplementedError({message})"
    return {"cell_type": "code", "execution_count": None, "id": f"exercise-{number}",
            "metadata": {}, "outputs": [], "source": lines_of(source)}


def clean_cell(cell: dict, name: str) -> dict:
    """The cell without outputs, execution counts or metadata other than tags."""
    if "id" not in cell:
        raise EditionError(f"{name}: a cell has no id; save the notebook in nbformat 4.5 (open and save it in JupyterLab)")
    cleaned = {"cell_type": cell["cell_type"], "id": cell["id"], "metadata": {},
               "source": lines_of(text_of(cell.get("source", "")))}
    if cell.get("metadata", {}).get("tags"):
        cleaned["metadata"]["tags"] = list(cell["metadata"]["tags"])
    if cell["cell_type"] == "code":
        cleaned.update(execution_count=None, outputs=[])
    elif "attachments" in cell:
        cleaned["attachments"] = cell["attachments"]
    return cleaned


def student_cells(cells: list[dict], name: str) -> list[dict]:
    """The notebook's cells, cleaned, with the exercise cells inserted after the exercise list."""
    cleaned = [clean_cell(cell, name) for cell in cells]
    for cell in cleaned:
        if cell["cell_type"] == "markdown":
            text = HOSTED_NOTEBOOK.sub(rf"\1{STUDENT}/\2", text_of(cell["source"]))
            cell["source"] = lines_of(drop_solution_links(text))
    with_heading = [i for i, cell in enumerate(cleaned) if cell["cell_type"] == "markdown"
                    and any(EXERCISES_HEADING.match(line) for line in text_of(cell["source"]).split("\n"))]
    if len(with_heading) != 1:
        found = "no" if not with_heading else f"{len(with_heading)} cells with an"
        raise EditionError(f"{name}: {found} '## Exercises' heading; each notebook needs exactly one, "
                           "followed by a numbered list of exercises")
    at = with_heading[0]
    head, exercises, tail = split_exercises(text_of(cleaned[at]["source"]), name)
    cleaned[at]["source"] = lines_of(head)
    inserted = [exercise_cell(*exercise) for exercise in exercises]
    if tail.strip():  # the navigation line, kept at the bottom after the exercise cells
        inserted.append({"cell_type": "markdown", "id": "after-exercises", "metadata": {}, "source": lines_of(tail)})
    cells = cleaned[: at + 1] + inserted + cleaned[at + 1:]
    ids = [cell["id"] for cell in cells]
    if len(set(ids)) != len(ids):
        raise EditionError(f"{name}: a cell id clashes with the ids the edition adds ('exercise-N', 'after-exercises')")
    return cells


def student_notebook(path: Path) -> str:
    """The student copy of one course notebook, as the JSON text nbconvert would store."""
    name = f"{SOURCE}/{path.name}"
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells, metadata = notebook["cells"], notebook.get("metadata", {})
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise EditionError(f"{name}: not a readable notebook ({err}); fix or re-save it") from None
    language = metadata.get("language_info", {}).get("name", "python")
    student = {"cells": student_cells(cells, name),
               "metadata": {"kernelspec": metadata.get("kernelspec", DEFAULT_KERNELSPEC),
                            "language_info": {"name": language}},
               "nbformat": 4, "nbformat_minor": 5}
    for cell in student["cells"]:
        for line in text_of(cell["source"]).split("\n"):
            if MENTIONS_SOLUTIONS.search(line):
                raise EditionError(f"{name}: cell {cell['id']} still mentions solutions/ ({line.strip()[:60]!r}); "
                                   "reword it in notebooks/")
    return json.dumps(student, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def relative_links(notebook_text: str) -> list[str]:
    """The relative link targets of a notebook's markdown cells (no anchors, no URLs)."""
    targets = []
    for cell in json.loads(notebook_text)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = text_of(cell["source"])
        for target in [m[2] for m in LINK.finditer(text)] + HTML_LINK.findall(text):
            path = unquote(target.split("#")[0].split("?")[0])
            if path and not EXTERNAL.match(path):
                targets.append(path)
    return targets


def broken_links(root: Path, files: dict[str, str]) -> list[str]:
    """Links in the student notebooks that would not open, resolved from student/."""
    broken = []
    for rel, text in files.items():
        if not rel.endswith(".ipynb"):
            continue
        for target in relative_links(text):
            resolved = posixpath.normpath(posixpath.join(STUDENT, target))
            inside = resolved in files if resolved.startswith(STUDENT + "/") else (root / resolved).exists()
            if target.startswith("/") or resolved.startswith("..") or not inside:
                broken.append(f"{rel} -> {target}")
    return broken


def build(root: Path = ROOT) -> dict[str, str]:
    """Every file of student/, by its path from the checkout's root: what would be written."""
    files = {f"{STUDENT}/{path.name}": student_notebook(path) for path in source_notebooks(root)}
    files[f"{STUDENT}/README.md"] = README
    broken = broken_links(root, files)
    if broken:
        raise EditionError(f"{len(broken)} link(s) would not resolve from {STUDENT}/: {', '.join(broken[:5])}; "
                           "fix them in notebooks/")
    return files


def generated_paths_on_disk(root: Path) -> set[str]:
    """The files in student/ that the edition owns: its notebooks and its README."""
    folder = root / STUDENT
    owned = list(folder.glob("*.ipynb")) + [folder / "README.md"]
    return {f"{STUDENT}/{path.name}" for path in owned if path.is_file()}


def stale(root: Path, files: dict[str, str]) -> list[str]:
    """Files of student/ that are missing, differ from the build, or have lost their source."""
    on_disk = generated_paths_on_disk(root)
    differing = [rel for rel, text in files.items()
                 if rel not in on_disk or (root / rel).read_bytes() != text.encode("utf-8")]
    return sorted(differing + sorted(on_disk - files.keys()))


def check(root: Path = ROOT) -> list[str]:
    """The stale files of the committed student/ (empty when it is in sync); writes nothing."""
    return stale(root, build(root))


def write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(text.encode("utf-8"))
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the edition is for everyone to read
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write(root: Path = ROOT) -> tuple[list[str], list[str]]:
    """Write the edition; returns the files written and the stale ones removed."""
    files = build(root)  # every error before the first write
    outdated = stale(root, files)
    (root / STUDENT).mkdir(exist_ok=True)
    written = [rel for rel in outdated if rel in files]
    for rel in written:
        write_atomically(root / rel, files[rel])
    removed = [rel for rel in outdated if rel not in files]
    for rel in removed:
        (root / rel).unlink()
    return written, removed


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare student/ with a fresh build in memory; exit 1 and list stale files")
    args = parser.parse_args(argv)
    try:
        if args.check:
            outdated = check(root)
            if outdated:
                print(f"{STUDENT}/ is out of date; run `{COMMAND}`. Stale files:")
                print("\n".join(f"  {rel}" for rel in outdated))
                return 1
            print(f"{STUDENT}/ is up to date")
            return 0
        written, removed = write(root)
    except EditionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{STUDENT}/: {len(written)} file(s) written, {len(removed)} removed"
          + (f" ({', '.join(written + removed)})" if written or removed else ", already up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
