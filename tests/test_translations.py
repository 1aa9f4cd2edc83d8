"""The Chinese README and the glossary: checks that fail when they drift from README.md.

README.zh-CN.md gives the method, the commands and the conclusions in Chinese and links to
README.md's tables for every number, so these tests compare structure, commands, links and
terms, never numbers, and check that no number was copied by hand.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGLISH, CHINESE, GLOSSARY = "README.md", "README.zh-CN.md", "GLOSSARY.md"

# The terms the Chinese README must use in the glossary's translation (English term -> looked up).
KEY_TERMS = ["pseudo-label", "confidence threshold", "semi-supervised learning", "confirmation bias",
             "baseline", "coverage", "continue training", "from scratch", "round", "seed", "oracle",
             "calibration", "temperature scaling", "soft label", "agreement filtering", "tri-training",
             "guard", "quick mode", "labelled set", "unlabelled set"]
# Other common renderings of those terms: finding one means the README left the glossary's wording.
OFF_GLOSSARY = ["伪标记", "置信阈值", "确认偏误", "证实偏差", "半监督式", "种子数", "自我训练"]


def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _test_command(readme: str) -> str:
    """The line .ci/run executes: the first non-fence line after the marker."""
    after = readme[readme.index("<!-- test-command -->"):].splitlines()[1:]
    return next(line for line in after if line and not line.startswith("```"))


def _headings(readme: str) -> list[str]:
    """Heading texts of levels 1-3, outside fenced code blocks."""
    headings, fenced = [], False
    for line in readme.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,3} ", line):
            headings.append(line.lstrip("#").strip())
    return headings


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _notebook_links(readme: str) -> list[str]:
    """Notebook links in table rows, in order (the course table)."""
    rows = [line for line in readme.splitlines() if line.startswith("|")]
    return [link for row in rows for link in re.findall(r"\]\((notebooks/[^)]+\.ipynb)\)", row)]


def _glossary_rows() -> list[list[str]]:
    lines = _read(GLOSSARY).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| English |"))
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _chinese_term(cell: str) -> str:
    """The term itself, without a bracketed gloss: 质量（伪标签准确率） -> 质量."""
    return re.split(r"[（(]", cell, maxsplit=1)[0].strip()


def test_each_readme_links_the_other_and_the_glossary_on_its_first_line():
    for name, other in [(ENGLISH, CHINESE), (CHINESE, ENGLISH)]:
        first = _read(name).lstrip().splitlines()[0]
        assert f"]({other})" in first and f"]({GLOSSARY})" in first, f"{name}: first line must link {other} and {GLOSSARY}"
    glossary = _read(GLOSSARY)
    assert f"]({ENGLISH})" in glossary and f"]({CHINESE})" in glossary


def test_both_readmes_give_the_same_two_commands():
    english, chinese = _read(ENGLISH), _read(CHINESE)
    assert _test_command(chinese) == _test_command(english)
    assert "pytest" in _test_command(english)
    for readme in (english, chinese):
        assert re.search(r"```bash\nbash setup\.sh\n```", readme)


def test_the_course_tables_link_the_same_notebooks_and_every_one_exists():
    english, chinese = _notebook_links(_read(ENGLISH)), _notebook_links(_read(CHINESE))
    assert english, "README.md: no notebook links in the course table"
    assert chinese == english, f"only in README.md: {set(english) - set(chinese)}; only in {CHINESE}: {set(chinese) - set(english)}"
    missing = [link for link in english if not (ROOT / link).is_file()]
    assert not missing, f"linked notebooks that do not exist: {missing}"


def test_every_english_section_has_a_chinese_counterpart_in_the_same_order():
    # Each Chinese heading is followed by <!-- en: English heading -->; a section added to
    # README.md without a translation makes this fail, naming the section.
    translated = re.findall(r"^#{1,3} .+\n<!-- en: (.+?) -->$", _read(CHINESE), flags=re.M)
    english = _headings(_read(ENGLISH))
    untranslated = [h for h in english if h not in translated]
    assert not untranslated, f"sections of README.md not yet in {CHINESE}: {untranslated}"
    assert translated == english, f"{CHINESE} names sections README.md no longer has, or in another order"


def test_links_into_the_english_readme_point_to_existing_sections():
    anchors = {_slug(h) for h in _headings(_read(ENGLISH))}
    for name in (CHINESE, GLOSSARY):
        for anchor in re.findall(r"\]\(README\.md#([^)]+)\)", _read(name)):
            assert anchor in anchors, f"{name}: README.md#{anchor} is not a section of README.md"


def test_the_chinese_readme_copies_no_measured_number():
    # The numbers live in README.md, generated or measured; a copy here would go stale.
    chinese = _read(CHINESE)
    assert "<!-- results:start -->" not in chinese and "<!-- leaderboard:start -->" not in chinese
    assert "<!-- seeds:start -->" not in chinese
    for pattern in (r"\d\s*%", r"±\s*\d", r"[+−-]\d+\.\d+", r"\d\s*(?:秒|分钟|min\b)", r"\d\.\d+\s*×"):
        found = re.findall(r".{0,20}" + pattern + r".{0,10}", chinese)
        assert not found, f"{CHINESE} quotes a measured number ({found[0]!r}): link to README.md instead"


def test_glossary_is_sorted_complete_and_has_no_duplicates():
    rows = _glossary_rows()
    assert 30 <= len(rows) <= 60
    assert all(len(row) == 4 and all(row) for row in rows), "each row: English | 中文 | definition | 释义"
    english = [row[0] for row in rows]
    assert english == sorted(english, key=str.casefold), "the glossary is sorted by its English term"
    assert len({e.casefold() for e in english}) == len(english), "an English term appears twice"
    chinese = [_chinese_term(row[1]) for row in rows]
    assert len(set(chinese)) == len(chinese), "two English terms share one Chinese term"


def test_the_chinese_readme_uses_the_glossarys_terms():
    chinese_of = {row[0]: _chinese_term(row[1]) for row in _glossary_rows()}
    readme = _read(CHINESE)
    missing = [term for term in KEY_TERMS if term not in chinese_of]
    assert not missing, f"key terms missing from {GLOSSARY}: {missing}"
    unused = [f"{term} -> {chinese_of[term]}" for term in KEY_TERMS if chinese_of[term] not in readme]
    assert not unused, f"{CHINESE} does not use the glossary's translation of: {unused}"
    stray = [word for word in OFF_GLOSSARY if word in readme]
    assert not stray, f"{CHINESE} uses renderings that are not the glossary's: {stray}"
