"""The web edition (tools/build_site.py): every course notebook a page with its stored figures,
every internal link resolving, no build warnings; and the link rewriting it relies on."""
from __future__ import annotations

import base64
import html
import importlib.util
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_site", ROOT / "tools" / "build_site.py")
build_site = importlib.util.module_from_spec(_spec)
sys.modules["build_site"] = build_site  # dataclasses look their module up while the file runs
_spec.loader.exec_module(build_site)

needs_jupyter_book = pytest.mark.skipif(
    importlib.util.find_spec("jupyter_book") is None,
    reason="the site extra is not installed (pip install -c constraints.txt -e '.[site]')")
REPO = "https://github.com/someone/course"


# ---- link rewriting and checking, on a small made-up checkout (no Jupyter Book needed) ----

def _checkout(tmp_path: Path, solution: bool = True) -> Path:
    """README with a course table of one notebook, a solution, a script, a tests folder, an image."""
    (tmp_path / "notebooks" / "solutions").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "README.md").write_text(
        "# Course\n\n## The course\n\n| notebook | idea |\n|---|---|\n"
        "| [00 Start](notebooks/00_start.ipynb) | it |\n\n[Glossary](GLOSSARY.md)\n\n## Next\n\n"
        "| [99 Not the course](notebooks/99_other.ipynb) | no |\n")
    (tmp_path / "GLOSSARY.md").write_text("# Glossary\n")
    for notebook in ("00_start.ipynb", "99_other.ipynb"):
        (tmp_path / "notebooks" / notebook).write_text("{}")
    if solution:
        (tmp_path / "notebooks" / "solutions" / "00_solutions.ipynb").write_text("{}")
    (tmp_path / "pseudo_labeling.py").write_text("")
    (tmp_path / "figure.png").write_bytes(b"\x89PNG")
    return tmp_path


def _links(root: Path, repo_url: str | None) -> build_site.Links:
    readme = (root / "README.md").read_text()
    site = build_site.site_paths(build_site.course_chapters(readme, root), build_site.linked_documents(readme, root))
    return build_site.Links(site, root, repo_url)


def test_the_course_table_alone_gives_the_chapters_each_with_its_solution(tmp_path):
    root = _checkout(tmp_path)
    readme = (root / "README.md").read_text()
    assert build_site.course_chapters(readme, root) == [
        build_site.Chapter("notebooks/00_start.ipynb", "notebooks/solutions/00_solutions.ipynb")]
    (root / "notebooks" / "solutions" / "00_solutions.ipynb").unlink()
    assert build_site.course_chapters(readme, root)[0].solution is None
    assert build_site.linked_documents(readme, root) == ["GLOSSARY.md"]


def test_links_to_pages_follow_the_pages_and_other_files_go_to_the_repository(tmp_path):
    links = _links(_checkout(tmp_path), REPO)
    markdown = ("[contents](../README.md#the-course) [answers](solutions/00_solutions.ipynb) "
                "[tool](../pseudo_labeling.py) [tests](../tests/) ![figure](../figure.png) "
                "[web](https://example.org/x.md) [here](#setup) `[code](missing.ipynb)`")
    rewritten = links.rewrite(markdown, "notebooks/00_start.ipynb")
    assert "[contents](../index.md#the-course)" in rewritten  # the README is the site's index page
    assert "[answers](solutions/00_solutions.ipynb)" in rewritten
    assert f"[tool]({REPO}/blob/main/pseudo_labeling.py)" in rewritten
    assert f"[tests]({REPO}/tree/main/tests)" in rewritten
    assert "![figure](../figure.png)" in rewritten and links.assets == {"figure.png"}
    assert "[web](https://example.org/x.md) [here](#setup) `[code](missing.ipynb)`" in rewritten
    assert links.errors == [] and links.notes == []


def test_without_a_repository_address_outside_links_become_plain_text_and_are_reported(tmp_path):
    links = _links(_checkout(tmp_path), None)
    rewritten = links.rewrite("See [the tool](pseudo_labeling.py) and [00](notebooks/00_start.ipynb).", "README.md")
    assert rewritten == "See the tool and [00](notebooks/00_start.ipynb)."
    assert links.notes == ["README.md links to pseudo_labeling.py, which is not a page of the site: shown as plain text"]


def test_broken_and_escaping_links_and_relative_raw_html_are_errors(tmp_path):
    links = _links(_checkout(tmp_path), REPO)
    links.rewrite('[gone](02_gone.ipynb) [up](../../etc/passwd) <img src="local.png">', "notebooks/00_start.ipynb")
    errors = " | ".join(links.errors)
    assert len(links.errors) == 3 and "02_gone.ipynb, which does not exist" in errors
    assert "leaves the repository" in errors and "raw HTML links to local.png" in errors


def test_widgets_give_way_to_their_stored_fallback_on_a_page_without_a_kernel(tmp_path):
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "m1"}, "image/png": "iVBORw0K"}
    notebook = {"cells": [{"cell_type": "code", "source": [], "outputs": [{"output_type": "display_data", "data": view}]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "widgets.ipynb"
    path.write_text(json.dumps(notebook))
    links = build_site.Links({"widgets.ipynb": "widgets.ipynb"}, tmp_path, None)
    shown = json.loads(build_site.notebook_for_site(path, "widgets.ipynb", links))
    assert shown["cells"][0]["outputs"][0]["data"] == {"image/png": "iVBORw0K"}
    notebook["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"m1": {}}}}
    path.write_text(json.dumps(notebook))
    shown = json.loads(build_site.notebook_for_site(path, "widgets.ipynb", links))
    assert shown["cells"][0]["outputs"][0]["data"] == {"image/png": "iVBORw0K"}  # saved state or not
    assert "widgets" not in shown["metadata"]  # no widget scripts on the page
    alone = {"application/vnd.jupyter.widget-view+json": {"model_id": "m2"}}  # no fallback: left as it is
    notebook["cells"][0]["outputs"][0]["data"] = dict(alone)
    path.write_text(json.dumps(notebook))
    assert json.loads(build_site.notebook_for_site(path, "widgets.ipynb", links))["cells"][0]["outputs"][0]["data"] == alone


def test_the_html_check_finds_missing_files_and_missing_anchors(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#kept">ok</a><a href="b.html#lost">x</a>'
                                     '<img src="_images/none.png"><a href="https://example.org/">w</a>')
    (tmp_path / "b.html").write_text('<h2 id="kept">Kept</h2><a href="a.html">back</a>')
    assert build_site.find_broken_links(tmp_path) == [
        "a.html: b.html#lost (no such anchor)", "a.html: _images/none.png (no such file)"]


def test_bad_input_gets_one_line_and_a_nonzero_exit(tmp_path):
    (tmp_path / "README.md").write_text("# A course without its table\n")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--root", str(tmp_path),
                             "--out", str(tmp_path / "site")], capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith('error: README.md has no "## The course"')


@needs_jupyter_book
def test_a_link_to_a_missing_readme_heading_fails_the_build_with_one_line(tmp_path):
    root = _checkout(tmp_path, solution=False)
    notebook = {"cells": [{"cell_type": "markdown", "id": "a1", "metadata": {},
                           "source": ["# Start\n", "[contents](../README.md#no-such-heading)\n"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / "notebooks" / "00_start.ipynb").write_text(json.dumps(notebook))
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--root", str(root),
                             "--out", str(tmp_path / "site")], capture_output=True, text=True, timeout=300)
    last_line = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1 and last_line.startswith("error: the site build printed 1 warning"), result.stderr
    assert "no-such-heading" in result.stderr and "\x1b[" not in result.stderr


# ---- the real site, built once from the stored notebooks ----

@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The site built from this checkout into a temporary folder: (html folder, the command's output)."""
    out_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out_dir)],
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return build_site.site_index(out_dir).parent, output


def _course_notebooks() -> list[str]:
    """The notebooks of the README's course table, read here independently of the tool."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## The course\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"\]\((notebooks/\d\d_[^)\s]+\.ipynb)\)", section)


def _pages_with_notebooks() -> list[tuple[str, Path]]:
    """(notebook, its page in the site's html folder, relative) for every notebook and solution."""
    pairs = []
    for notebook in _course_notebooks():
        solution = f"notebooks/solutions/{Path(notebook).name[:2]}_solutions.ipynb"
        for path in (notebook, solution):
            if (ROOT / path).is_file():
                pairs.append((path, Path(path).with_suffix(".html")))
    return pairs


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links, self.images = set(), [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(v for k, v in attrs.items() if k == "id" and v)
        self.links.extend(v for k, v in attrs.items() if k in ("href", "src") and v)
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])


def _parse(page: Path) -> _Page:
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@needs_jupyter_book
def test_the_build_prints_no_warnings_and_names_its_index(built_site):
    html_dir, output = built_site
    assert not re.search(r"WARNING|ERROR", output), output
    assert output.strip().splitlines()[-1] == f"site: {html_dir / 'index.html'}"
    title = next(line[2:].strip() for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("# "))
    assert html.escape(title, quote=False) in (html_dir / "index.html").read_text(encoding="utf-8")  # the README itself


@needs_jupyter_book
def test_every_notebook_of_the_course_table_has_a_page_linked_from_the_index(built_site):
    html_dir, _ = built_site
    notebooks = _course_notebooks()
    assert len(notebooks) >= 10, "the README's course table lists too few notebooks"
    index_links = set(_parse(html_dir / "index.html").links)
    for notebook, page in _pages_with_notebooks():
        assert (html_dir / page).is_file(), f"{notebook} has no page"
        if notebook in notebooks:
            assert page.as_posix() in index_links, f"the index does not link {page}"


@needs_jupyter_book
def test_each_page_shows_the_figures_stored_in_its_notebook(built_site):
    html_dir, _ = built_site
    pages_with_figures = 0
    for notebook, page in _pages_with_notebooks():
        cells = json.loads((ROOT / notebook).read_text())["cells"]
        stored = [base64.b64decode(out["data"]["image/png"]) for cell in cells for out in cell.get("outputs", [])
                  if "image/png" in out.get("data", {})]
        if not stored:
            continue
        pages_with_figures += 1
        shown = [(html_dir / page).parent / unquote(src) for src in _parse(html_dir / page).images
                 if "_images/" in src and not build_site.SCHEME.match(src)]
        assert len(shown) >= len(stored), f"{page}: {len(shown)} images for {len(stored)} stored figures"
        shown_bytes = {path.read_bytes() for path in shown if path.is_file()}
        assert all(png in shown_bytes for png in stored), f"{page}: a stored figure is missing from the site"
    assert pages_with_figures >= 10


@needs_jupyter_book
def test_every_internal_link_of_the_site_resolves(built_site):
    html_dir, _ = built_site
    pages = {page.resolve(): _parse(page) for page in html_dir.rglob("*.html")
             if page.relative_to(html_dir).parts[0] not in ("_static", "_sources")}
    checked, broken = 0, []
    for page, parsed in pages.items():
        for link in parsed.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            checked += 1
            if not target.is_file():
                broken.append(f"{page.name}: {link}")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{page.name}: {link} (anchor)")
    assert checked > 100 and broken == [], broken
