#!/usr/bin/env python3
"""Write the navigation of every notebook and solution from the files, in one pass.

Each notebook gets a previous · contents · next line at its top (with an "Open in Colab" badge)
and bottom, and a first code cell that installs the course on Colab. The titles come from the
link texts of README.md's course table, the repository from pyproject.toml's
``[project.urls] Repository``: a fork changes that line and re-runs this script, and a new
notebook needs only a row in the table and a re-run.

    python tools/navigation.py           # rewrite what is stale
    python tools/navigation.py --check   # list what is stale, exit 1, write nothing

Only the navigation lines and the Colab cell are ever rewritten; every other cell and line is
left as it was, in nbformat's JSON layout, so a second run changes nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COURSE_HEADING = "The course"  # README.md's section that holds the course table
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
SEPARATOR = " · "
COLAB_CELL_ID = "colab-setup"
COLAB_MARKER = "# On Google Colab:"  # the comment line that marks the cell as this script's
PACKAGE = "pseudo-labeling-course"

NOTEBOOK_NAME = re.compile(r"^(\d{2})_\w+\.ipynb$")
SOLUTION_NAME = re.compile(r"^(\d{2})_solutions\.ipynb$")
TABLE_ROW = re.compile(r"^\|\s*\[([^\[\]]+)\]\(notebooks/([^()\s]+\.ipynb)\)\s*\|")
# The parts a navigation line is made of, old hand-written ones included.
_BADGE = r"\[!\[Open In Colab\]\([^()\s]+\)\]\([^()\s]+\)"
_LINK = r"\[[^\[\]]+\]\([^()\s]*(?:\.ipynb|README\.md(?:#[\w-]*)?)\)"
_BOLD = r"\*\*[^*]+\*\*"
_PART = rf"(?:{_BADGE}|{_LINK}|{_BOLD})"
NAVIGATION_LINE = re.compile(rf"^{_PART}(?:{SEPARATOR}{_PART})*$")


class NavigationError(Exception):
    """Bad input (README table, pyproject.toml, file names); the message says what to do."""


@dataclass(frozen=True)
class Page:
    """One notebook or solution: its file, its two-digit number and the title readers see."""

    path: Path
    number: str
    title: str


# ---------------------------------------------------------------- the inputs
def repository_url(pyproject: Path) -> str:
    """``[project.urls] Repository`` of pyproject.toml, checked to be a GitHub repository."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
        url = tomllib.loads(text).get("project", {}).get("urls", {}).get("Repository")
    except ImportError:  # Python 3.10: read the one line by hand
        section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        found = section and re.search(r'^Repository\s*=\s*"([^"]+)"', section.group(1), re.M)
        url = found.group(1) if found else None
    if not url:
        raise NavigationError(f'{pyproject} has no [project.urls] Repository = "https://github.com/OWNER/REPO"; '
                              "add it and re-run")
    url = url.strip().removesuffix("/").removesuffix(".git")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise NavigationError(f"{pyproject}: [project.urls] Repository must look like "
                              f"https://github.com/OWNER/REPO (Colab opens notebooks from GitHub), not {url!r}")
    return url


def course_titles(readme: Path) -> dict[str, str]:
    """Notebook file name -> title, from the link texts of README.md's course table."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    heading = f"## {COURSE_HEADING}"
    if heading not in lines:
        raise NavigationError(f"{readme} has no '{heading}' section; the course table and the "
                              "contents links depend on it")
    titles = {}
    for line in lines[lines.index(heading) + 1:]:
        if line.startswith("## "):
            break
        row = TABLE_ROW.match(line)
        if row:
            titles[row.group(2)] = row.group(1).strip()
    return titles


def discover(root: Path) -> tuple[list[Page], list[Page]]:
    """The notebooks and the solutions on disk, each sorted by number, with their titles."""
    folder = root / "notebooks"
    readme = root / "README.md"
    titles = course_titles(readme)
    notebooks = []
    for path in sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name)):
        if path.name not in titles:
            raise NavigationError(f"notebooks/{path.name} is not in the course table of {readme.name} "
                                  f"('## {COURSE_HEADING}'); add a row | [NN Title](notebooks/{path.name}) | ... | "
                                  "and re-run")
        notebooks.append(Page(path, NOTEBOOK_NAME.match(path.name).group(1), titles[path.name]))
    by_number = {page.number: page for page in notebooks}
    if len(by_number) != len(notebooks):
        raise NavigationError("two notebooks share a number in notebooks/; give each its own")
    solutions = []
    for path in sorted(p for p in (folder / "solutions").glob("*.ipynb") if SOLUTION_NAME.match(p.name)):
        number = SOLUTION_NAME.match(path.name).group(1)
        if number not in by_number:
            raise NavigationError(f"notebooks/solutions/{path.name} has no notebook {number}_*.ipynb "
                                  "in notebooks/; rename or remove it")
        solutions.append(Page(path, number, f"Solutions {number}"))
    return notebooks, solutions


# ---------------------------------------------------------------- the lines and the cell
def join_parts(*parts: str | None) -> str:
    return SEPARATOR.join(part for part in parts if part)


def colab_badge(repository: str, root: Path, page: Page) -> str:
    where = page.path.relative_to(root).as_posix()
    target = repository.replace("https://github.com/", "https://colab.research.google.com/github/", 1)
    return f"[![Open In Colab]({BADGE_IMAGE})]({target}/blob/{BRANCH}/{where})"


def notebook_line(notebooks: list[Page], index: int) -> str:
    """``[← previous](…) · [Contents](…) · [next →](…)``, without the ends the first and last lack."""
    before = notebooks[index - 1] if index > 0 else None
    after = notebooks[index + 1] if index + 1 < len(notebooks) else None
    return join_parts(before and f"[← {before.title}]({before.path.name})",
                      f"[Contents](../README.md#{slug(COURSE_HEADING)})",
                      after and f"[{after.title} →]({after.path.name})")


def solution_line(solutions: list[Page], index: int, notebook: Page) -> str:
    """Previous and next solution, the notebook they solve, the contents."""
    before = solutions[index - 1] if index > 0 else None
    after = solutions[index + 1] if index + 1 < len(solutions) else None
    return join_parts(before and f"[← {before.title}]({before.path.name})",
                      f"[Back to {notebook.title}](../{notebook.path.name})",
                      f"[Contents](../../README.md#{slug(COURSE_HEADING)})",
                      after and f"[{after.title} →]({after.path.name})")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def colab_cell_source(repository: str) -> str:
    """The first code cell: installs the course on Colab, does nothing (and prints nothing) elsewhere.

    It imports nothing from helpers, which Colab does not have yet; tests exec it with a fake
    ``google.colab`` module and a stubbed ``subprocess.run``."""
    return "\n".join([
        "# NBVAL_IGNORE_OUTPUT",
        f"{COLAB_MARKER} install the course (helpers and pseudo_labeling.py) from its repository, in seconds.",
        "# Anywhere else this cell does nothing: there setup.sh has installed the course.",
        "import sys",
        "",
        'if "google.colab" in sys.modules:',
        "    import importlib",
        "    import subprocess",
        "",
        f'    course = "{PACKAGE} @ git+{repository}"',
        "    # --no-deps: Colab already has torch, torchvision, numpy, pillow, tqdm, matplotlib and ipywidgets;",
        "    # the course's other dependencies (JupyterLab, pytest) would replace Colab's own notebook server.",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", course], check=True)',
        "    importlib.invalidate_caches()  # so that `import helpers` finds the package just installed",
    ])


def is_navigation_line(line: str) -> bool:
    """A line this script wrote, or a hand-written one like it: links and bold titles joined by ·."""
    line = line.strip()
    return bool(NAVIGATION_LINE.match(line)) and any(mark in line for mark in ("←", "→", "[Contents]", "Open In Colab"))


# ---------------------------------------------------------------- editing one notebook
def cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def set_cell_text(cell: dict, text: str) -> None:
    if cell_text(cell) != text:
        cell["source"] = text.splitlines(keepends=True)  # nbformat's layout: one string a line


def with_top_line(text: str, top: str) -> str:
    lines = text.split("\n")
    if is_navigation_line(lines[0]):
        return "\n".join([top, *lines[1:]])
    return top if not text.strip() else "\n".join([top, "", *lines])


def place_bottom_line(cells: list[dict], bottom: str, top_cell: int) -> None:
    """Replace the last markdown cell's navigation line, or end the notebook with a cell of its own."""
    markdown = [i for i, cell in enumerate(cells) if cell["cell_type"] == "markdown"]
    if markdown:
        lines = cell_text(cells[markdown[-1]]).split("\n")
        last = max((i for i, line in enumerate(lines) if line.strip()), default=None)
        # the top line's own line cannot double as the bottom line
        if last is not None and is_navigation_line(lines[last]) and not (markdown[-1] == top_cell and last == 0):
            lines[last] = bottom
            set_cell_text(cells[markdown[-1]], "\n".join(lines))
            return
    cells.append({"cell_type": "markdown", "id": unique_id(cells, "navigation"), "metadata": {},
                  "source": bottom.splitlines(keepends=True)})


def is_colab_cell(cell: dict) -> bool:
    return cell["cell_type"] == "code" and (cell.get("id") == COLAB_CELL_ID or any(
        line.startswith(COLAB_MARKER) for line in cell_text(cell).split("\n")))


def place_colab_cell(cells: list[dict], source: str) -> None:
    """Make this script's cell the first code cell, with the current source and no outputs."""
    owned = [cell for cell in cells if is_colab_cell(cell)]
    cell = owned[0] if owned else {"cell_type": "code", "execution_count": None,
                                   "id": unique_id(cells, COLAB_CELL_ID), "metadata": {}, "outputs": [],
                                   "source": []}
    set_cell_text(cell, source)
    if cell.get("outputs"):
        cell["outputs"] = []
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    if owned and cells[code[0]] is cell and not owned[1:]:
        return  # already the first code cell, wherever a maintainer put it
    # Take it (and any copy of it) out, then put it back before the first other code cell.
    cells[:] = [c for c in cells if not any(c is mine for mine in owned)]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    first_markdown = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"), -1)
    cells.insert(code[0] if code else first_markdown + 1, cell)


def unique_id(cells: list[dict], wanted: str) -> str:
    taken = {cell.get("id") for cell in cells}
    suffix = 2
    name = wanted
    while name in taken:
        name, suffix = f"{wanted}-{suffix}", suffix + 1
    return name


def updated(notebook: dict, top: str, bottom: str, colab_source: str) -> dict:
    """The notebook with its navigation and Colab cell as they should be (a new dict)."""
    notebook = json.loads(json.dumps(notebook))  # a deep copy that keeps the key order
    cells = notebook["cells"]
    place_colab_cell(cells, colab_source)
    first = next((i for i, cell in enumerate(cells) if cell["cell_type"] == "markdown"), None)
    if first is None:
        cells.insert(0, {"cell_type": "markdown", "id": unique_id(cells, "navigation-top"), "metadata": {},
                         "source": []})
        first = 0
    set_cell_text(cells[first], with_top_line(cell_text(cells[first]), top))
    place_bottom_line(cells, bottom, first)
    return notebook


def render(notebook: dict) -> str:
    """nbformat's own layout, as nbconvert writes it: so that a diff shows only what changed."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- the whole course
def planned(root: Path) -> dict[Path, tuple[str, str]]:
    """Every notebook and solution whose text would change: path -> (text now, text wanted)."""
    repository = repository_url(root / "pyproject.toml")
    notebooks, solutions = discover(root)
    by_number = {page.number: page for page in notebooks}
    lines = {page.path: notebook_line(notebooks, i) for i, page in enumerate(notebooks)}
    lines |= {page.path: solution_line(solutions, i, by_number[page.number]) for i, page in enumerate(solutions)}
    colab_source = colab_cell_source(repository)
    changes = {}
    for page in notebooks + solutions:
        text = page.path.read_text(encoding="utf-8")
        try:
            notebook = json.loads(text)
        except json.JSONDecodeError as err:
            raise NavigationError(f"{page.path.relative_to(root)} is not valid JSON ({err}); "
                                  "repair or restore it first") from None
        top = join_parts(colab_badge(repository, root, page), lines[page.path])
        wanted = render(updated(notebook, top, lines[page.path], colab_source))
        if wanted != text:
            changes[page.path] = (text, wanted)
    return changes


def stale_files(root: Path = ROOT) -> list[Path]:
    """The notebooks and solutions whose navigation or Colab cell is missing or out of date."""
    return sorted(planned(root))


def write_atomically(path: Path, expected: str, text: str) -> bool:
    """Replace ``path`` with ``text`` unless someone changed it since it was read (then False)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        if path.read_text(encoding="utf-8") != expected:
            return False
        os.replace(tmp, path)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def update(root: Path = ROOT, attempts: int = 3) -> list[Path]:
    """Rewrite every stale notebook; returns the files written. A file that another process
    (nbconvert, say) rewrote meanwhile is planned again from its new text."""
    written = []
    for _ in range(attempts):
        changes = planned(root)
        busy = [path for path, (now, wanted) in changes.items() if not write_atomically(path, now, wanted)]
        written += [path for path in changes if path not in busy]
        if not busy:
            return sorted(set(written))
    raise NavigationError(f"{', '.join(p.name for p in busy)} kept changing while being written; "
                          "re-run when nothing else writes the notebooks")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="list the notebooks whose navigation is stale and exit 1; write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # for the tests
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_files(args.root)
            for path in stale:
                print(f"stale: {path.relative_to(args.root)}")
            if stale:
                print(f"{len(stale)} notebook(s) out of date: run  python tools/navigation.py", file=sys.stderr)
            return 1 if stale else 0
        for path in update(args.root):
            print(f"updated {path.relative_to(args.root)}")
        return 0
    except (NavigationError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
