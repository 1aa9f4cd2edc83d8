"""Build the course's web edition: the notebooks with their stored outputs, as a static site.

The site is a Jupyter Book (version 1, Sphinx-based: it installs with pip alone and builds
offline). Its table of contents is the README's course table: the README is the landing page,
then each notebook with its solutions as a sub-page, then the Markdown files the README links to
(a glossary, a translation). Notebooks are never executed; the site shows what is stored in them.

    python tools/build_site.py                 # into build/site/, prints the index's path
    python tools/build_site.py --out DIR       # elsewhere
    python tools/build_site.py --repo-url https://github.com/OWNER/REPO

Links to files that are not pages of the site (pseudo_labeling.py, tests/, data/README.md)
become links to the repository when its URL is known (--repo-url, or `Repository` under
[project.urls] in pyproject.toml); without one they become plain text and are listed as notes.
The build fails, with one line saying why, on any build warning and on any broken internal link.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "site"
BOOK_FOLDER = "book"  # the generated book source, under the output folder
HTML_FOLDER = Path("_build") / "html"  # where Jupyter Book writes the site, under the output folder
COURSE_HEADING = "## The course"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")  # http:, mailto:, data:, //host: not ours
# [text](target "title") and ![alt](target): the target may be wrapped in <...>
MARKDOWN_LINK = re.compile(r'(?P<bang>!?)\[(?P<text>[^\]\n]*)\]\(\s*<?(?P<target>[^)\s>]+)>?(?P<title>\s+"[^"]*")?\s*\)')
HTML_LINK = re.compile(r'\b(?:href|src)\s*=\s*["\'](?P<target>[^"\']+)["\']')
# fenced code blocks and inline code spans: links inside them are code, not links
CODE = re.compile(r"^(?P<fence>`{3,}|~{3,}).*?^(?P=fence)[^\n]*$|`[^`\n]+`", re.M | re.S)


class SiteError(Exception):
    """A problem the user must fix; its message is the one line the command prints."""


def site_index(out_dir: Path = DEFAULT_OUT) -> Path:
    """The landing page of a site built into out_dir (what a browser or a test opens first)."""
    return Path(out_dir) / HTML_FOLDER / "index.html"


def page_path(notebook: str, out_dir: Path = DEFAULT_OUT) -> Path:
    """The HTML page of a notebook given by its path in the repository, e.g. notebooks/01_x.ipynb."""
    return Path(out_dir) / HTML_FOLDER / Path(notebook).with_suffix(".html")


@dataclass(frozen=True)
class Chapter:
    """One row of the course table: a notebook and, if it has one, its solutions notebook."""
    notebook: str  # a path in the repository, with forward slashes
    solution: str | None


def course_chapters(readme: str, root: Path = ROOT) -> list[Chapter]:
    """The notebooks of the README's course table, in order, each with its solutions if present."""
    start = readme.find("\n" + COURSE_HEADING + "\n")
    if start < 0:
        raise SiteError(f'README.md has no "{COURSE_HEADING}" section: the site\'s contents come from its table')
    section = readme[start + 1:]
    end = section.find("\n## ")
    rows = [line for line in section[:end if end > 0 else None].splitlines() if line.startswith("|")]
    notebooks = [m.group(1) for row in rows for m in re.finditer(r"\]\((notebooks/[^)\s#]+\.ipynb)\)", row)]
    if not notebooks:
        raise SiteError(f'the "{COURSE_HEADING}" table in README.md links no notebooks/NN_*.ipynb')
    chapters = []
    for notebook in dict.fromkeys(notebooks):  # in order, each once
        if not (root / notebook).is_file():
            raise SiteError(f"README.md's course table links {notebook}, which does not exist")
        number = Path(notebook).name.split("_")[0]
        solution = f"notebooks/solutions/{number}_solutions.ipynb"
        chapters.append(Chapter(notebook, solution if (root / solution).is_file() else None))
    return chapters


def linked_documents(readme: str, root: Path = ROOT) -> list[str]:
    """The Markdown files the README links to (a glossary, a translation): pages after the course."""
    prose = CODE.sub("", readme)
    documents = []
    for match in MARKDOWN_LINK.finditer(prose):
        target = unquote(match.group("target").partition("#")[0])
        path = posixpath.normpath(target) if target and not SCHEME.match(target) else ""
        if path.endswith(".md") and path != "README.md" and not path.startswith("..") and (root / path).is_file():
            documents.append(path)
    return list(dict.fromkeys(documents))


def site_paths(chapters: list[Chapter], documents: list[str]) -> dict[str, str]:
    """Each file that becomes a page: its path in the repository -> its path in the book."""
    paths = {"README.md": "index.md"}  # the README is the landing page, so index.html is a real page
    for chapter in chapters:
        paths[chapter.notebook] = chapter.notebook
        if chapter.solution:
            paths[chapter.solution] = chapter.solution
    paths.update({document: document for document in documents})
    return paths


@dataclass
class Links:
    """How the links of the site's sources were rewritten: what to report, what to copy."""
    site: dict[str, str]  # repository path -> book path, for every page
    root: Path
    repo_url: str | None
    branch: str = "main"
    notes: list[str] = field(default_factory=list)  # out-of-site links shown as plain text
    errors: list[str] = field(default_factory=list)  # broken links
    assets: set[str] = field(default_factory=set)  # images to copy beside the pages

    def rewrite(self, text: str, source: str) -> str:
        """text (Markdown of the repository file `source`) with every relative link made to work in the site."""
        pieces = []
        position = 0
        for code in CODE.finditer(text):
            pieces.append(self._rewrite_prose(text[position:code.start()], source))
            pieces.append(code.group(0))
            position = code.end()
        pieces.append(self._rewrite_prose(text[position:], source))
        return "".join(pieces)

    def _rewrite_prose(self, text: str, source: str) -> str:
        for match in HTML_LINK.finditer(text):
            target = match.group("target")
            if not SCHEME.match(target) and not target.startswith("#"):
                self.errors.append(f"{source}: raw HTML links to {target}; write relative links in Markdown, [text]({target})")
        return MARKDOWN_LINK.sub(lambda match: self._rewrite_link(match, source), text)

    def _rewrite_link(self, match: re.Match, source: str) -> str:
        target = match.group("target")
        if SCHEME.match(target) or target.startswith("#"):
            return match.group(0)
        path, hash_sign, fragment = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(path)))
        on_disk = self.root / resolved
        if path.startswith("/") or resolved.startswith(".."):
            self.errors.append(f"{source}: link to {target} leaves the repository; make it relative to {source}")
            return match.group(0)
        if resolved in self.site:
            new_target = posixpath.relpath(self.site[resolved], posixpath.dirname(self.site[source]))
        elif on_disk.is_file() and on_disk.suffix.lower() in IMAGE_SUFFIXES:
            self.assets.add(resolved)
            new_target = posixpath.relpath(resolved, posixpath.dirname(self.site[source]))
        elif on_disk.exists():
            return self._outside_site(match, source, resolved, on_disk.is_dir(), hash_sign + fragment)
        else:
            self.errors.append(f"{source}: link to {target}, which does not exist")
            return match.group(0)
        return f"{match.group('bang')}[{match.group('text')}]({new_target}{hash_sign}{fragment}{match.group('title') or ''})"

    def _outside_site(self, match: re.Match, source: str, resolved: str, is_dir: bool, fragment: str) -> str:
        """A link to a file of the repository that is not a page: to the repository, or plain text."""
        if self.repo_url:
            kind = "tree" if is_dir else "blob"
            return f"[{match.group('text')}]({self.repo_url}/{kind}/{self.branch}/{resolved}{fragment})"
        self.notes.append(f"{source} links to {resolved}, which is not a page of the site: shown as plain text")
        return match.group("text")


def write_atomically(path: Path, text: str) -> None:
    """Write text to path through a temporary file, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def static_widgets(notebook: dict) -> None:
    """A page has no kernel, so a widget there cannot respond (notebook 03's threshold slider would
    sit still): where an output stores a fallback beside its widget view (a figure, a text), show
    the fallback, and drop the saved widget state, so that no page loads widget scripts."""
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and len(data) > 1:
                del data[WIDGET_VIEW]


def notebook_for_site(path: Path, source: str, links: Links) -> str:
    """The stored notebook, its outputs as they are (but widgets as their static fallback), with the
    links of its Markdown cells rewritten."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SiteError(f"cannot read {source} as a notebook ({error}); is it half-written?") from None
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = links.rewrite(text, source).splitlines(keepends=True)
    static_widgets(notebook)
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def book_config(title: str, links: Links) -> dict:
    """Jupyter Book's _config.yml: stored outputs only (never execute), warnings worth failing on."""
    return {
        "title": title,
        "author": "",
        "copyright": "",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "repository": {"url": links.repo_url or "", "branch": links.branch, "path_to_book": ""},
        "html": {"use_repository_button": bool(links.repo_url), "home_page_in_navbar": True},
        "sphinx": {"config": {
            "myst_heading_anchors": 3,  # [text](../README.md#the-course) links to the README's headings
            "html_show_copyright": False,
            "html_show_sphinx": False,
        }},
    }


def book_toc(chapters: list[Chapter], documents: list[str]) -> dict:
    """Jupyter Book's _toc.yml: the landing page, each notebook with its solutions below it, then
    the other documents the README links to."""
    def entry(chapter: Chapter) -> dict:
        item = {"file": chapter.notebook.removesuffix(".ipynb")}
        if chapter.solution:
            item["sections"] = [{"file": chapter.solution.removesuffix(".ipynb")}]
        return item
    documents_toc = [{"file": document.removesuffix(".md")} for document in documents]
    return {"format": "jb-book", "root": "index", "chapters": [entry(c) for c in chapters] + documents_toc}


def write_book(book_dir: Path, root: Path, links: Links, chapters: list[Chapter], documents: list[str]) -> None:
    """The book's sources in book_dir: the README, the notebooks, the documents, their images,
    config and toc."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    headings = [line[2:].strip() for line in CODE.sub("", readme).splitlines() if line.startswith("# ")]
    title = headings[0] if headings else "The course"
    for source, book_path in links.site.items():
        if source.endswith(".md"):
            text = (root / source).read_text(encoding="utf-8")
            write_atomically(book_dir / book_path, links.rewrite(text, source))
        else:
            write_atomically(book_dir / book_path, notebook_for_site(root / source, source, links))
    for asset in sorted(links.assets):
        (book_dir / asset).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / asset, book_dir / asset)
    # JSON is YAML: no YAML writer needed to describe the book
    write_atomically(book_dir / "_config.yml", json.dumps(book_config(title, links), indent=1) + "\n")
    write_atomically(book_dir / "_toc.yml", json.dumps(book_toc(chapters, documents), indent=1) + "\n")


def run_jupyter_book(book_dir: Path, out_dir: Path) -> list[str]:
    """Build the HTML; returns the warnings and errors it printed (none on a clean build)."""
    if importlib.util.find_spec("jupyter_book") is None:
        raise SiteError("Jupyter Book is not installed; run: pip install -c constraints.txt -e '.[site]'")
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(book_dir),
               "--path-output", str(out_dir), "--builder", "html", "--all", "--warningiserror", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=out_dir)
    # without colours, and with paths in the book shown as paths in the repository (index.md is the README)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr).replace(f"{book_dir}{os.sep}", "")
    problems = [line.strip() for line in output.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)]
    if result.returncode != 0 and not problems:
        tail = [line for line in output.splitlines() if line.strip()][-3:]
        problems = [f"jupyter-book exited with status {result.returncode}: " + " | ".join(tail)]
    return problems


class _Anchors(HTMLParser):
    """The ids a page defines and the href/src links it holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])
        for key in ("href", "src"):
            if values.get(key):
                self.links.append(values[key])


def find_broken_links(html_dir: Path) -> list[str]:
    """Every internal href/src of the site that points to a missing file or a missing #anchor."""
    html_dir = Path(html_dir)
    pages = {}
    for page in sorted(html_dir.rglob("*.html")):
        if page.relative_to(html_dir).parts[0] in ("_static", "_sources"):  # theme templates, not pages
            continue
        parser = _Anchors()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page.resolve()] = parser
    broken = []
    for page, parser in pages.items():
        for link in parser.links:
            if SCHEME.match(link):
                continue
            parts = urlsplit(link)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = page.relative_to(html_dir.resolve())
            if not target.is_file():
                broken.append(f"{where}: {link} (no such file)")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{where}: {link} (no such anchor)")
    return broken


def repository_url(root: Path) -> str | None:
    """The repository's web address from pyproject.toml ([project.urls] Repository), if it names one."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: give --repo-url instead
        return None
    try:
        urls = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {}).get("urls", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    url = urls.get("Repository") or urls.get("Source")
    return url.rstrip("/").removesuffix(".git") if url else None


def fail_with(problems: list[str], summary: str) -> None:
    """Print each problem on its own line, then raise the one-line summary."""
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    raise SiteError(summary)


def build(out_dir: Path = DEFAULT_OUT, root: Path = ROOT, repo_url: str | None = None, branch: str = "main") -> Path:
    """Generate the book from the README's course table, build it, check it; returns the index page."""
    readme = root / "README.md"
    if not readme.is_file():
        raise SiteError(f"no README.md in {root}: run this from a checkout of the course")
    chapters = course_chapters(readme.read_text(encoding="utf-8"), root)
    documents = linked_documents(readme.read_text(encoding="utf-8"), root)
    links = Links(site_paths(chapters, documents), root, (repo_url or repository_url(root) or "").rstrip("/") or None, branch)
    out_dir = Path(out_dir).resolve()
    book_dir = out_dir / BOOK_FOLDER
    for stale in (book_dir, out_dir / "_build"):  # only what this script made: a clean build reports every warning
        shutil.rmtree(stale, ignore_errors=True)
    write_book(book_dir, root, links, chapters, documents)
    for note in links.notes:
        print(f"note: {note}")
    if links.errors:
        fail_with(links.errors, f"{len(links.errors)} broken link(s) in the README or the notebooks (listed above)")
    warnings = run_jupyter_book(book_dir, out_dir)
    if warnings:
        fail_with(warnings, f"the site build printed {len(warnings)} warning(s) (listed above); fix them, then rebuild")
    broken = find_broken_links(out_dir / HTML_FOLDER)
    if broken:
        fail_with(broken, f"{len(broken)} broken internal link(s) in the built site (listed above)")
    return site_index(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: build/site)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course checkout to build (default: this one)")
    parser.add_argument("--repo-url", help="https://github.com/OWNER/REPO: where links to files outside the site go")
    parser.add_argument("--branch", default="main", help="the branch those links name (default: main)")
    args = parser.parse_args(argv)
    try:
        index = build(args.out, args.root.resolve(), args.repo_url, args.branch)
    except SiteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"site: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
