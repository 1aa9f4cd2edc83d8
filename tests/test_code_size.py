"""The helpers stay readable: fit's default path fits on one screen, and no function grows past
60 lines or 10 parameters unless a comment right above it says why."""
from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import helpers
import helpers.train

HELPERS = Path(helpers.__file__).resolve().parent
MAX_LINES, MAX_PARAMETERS = 60, 10


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names[1:] if names[:1] in (["self"], ["cls"]) else names


def _justified(lines: list[str], node) -> bool:
    """A comment line directly above the ``def`` (or above its first decorator)."""
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return first >= 2 and lines[first - 2].strip().startswith("#")


def _oversized() -> list[str]:
    found = []
    for path in sorted(HELPERS.rglob("*.py")):
        text = path.read_text()
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            n_lines, n_params = node.end_lineno - node.lineno + 1, len(_parameters(node))
            if (n_lines > MAX_LINES or n_params > MAX_PARAMETERS) and not _justified(lines, node):
                found.append(f"{path.relative_to(HELPERS.parent)}:{node.lineno} {node.name}: "
                             f"{n_lines} lines, {n_params} parameters")
    return found


def test_fit_fits_on_one_screen():
    assert len(inspect.getsource(helpers.train.fit).splitlines()) <= MAX_LINES


def test_no_long_function_without_a_reason():
    assert _oversized() == [], "split these, or say why in a comment right above the def"


def test_the_size_check_sees_a_long_function_and_its_reason(tmp_path, monkeypatch):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    params = ", ".join(f"a{i}" for i in range(MAX_PARAMETERS + 1))
    source = f"def long():\n{body}\n\n\ndef wide({params}):\n    pass\n\n\n# a reason\ndef said_why({params}):\n    pass\n"
    tree, lines = ast.parse(source), source.splitlines()
    flagged = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
               and (n.end_lineno - n.lineno + 1 > MAX_LINES or len(_parameters(n)) > MAX_PARAMETERS)
               and not _justified(lines, n)}
    assert flagged == {"long", "wide"}
    package = tmp_path / "helpers"  # and the check itself, run on that source
    package.mkdir()
    (package / "module.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "HELPERS", package)
    assert [f.split()[1] for f in _oversized()] == ["long:", "wide:"]
