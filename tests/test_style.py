"""helpers.style: one palette, one colour per class, one place for fonts and sizes.

The scan at the end holds every figure to it. Its rule: a colour written as a string in a
notebook's code cell, in helpers/ (outside style.py) or in pseudo_labeling.py must be achromatic
(red = green = blue: "k", "black", "white", "gray", "0.6", "none"), because grays belong to no
class and no method. A colour with a hue (hex "#e69f00", a name "red", "tab:blue", a cycle
reference "C0", a format string "ro-") or a coloured colormap ("Blues") must come from
helpers.style, which plots re-exports: plots.CLASS_COLOURS, plots.RIGHT, plots.SERIES...
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import is_color_like, same_color, to_rgb  # noqa: E402

from helpers import plots, style, toy2d  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OKABE_ITO = {"#000000", "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"}


def test_the_palette_is_okabe_and_ito_s_eight():
    assert {hex_.lower() for hex_ in style.OKABE_ITO.values()} == OKABE_ITO
    assert style.OKABE_ITO["blue"] == "#0072b2" and style.OKABE_ITO["orange"] == "#e69f00"


def test_each_class_has_one_palette_colour_that_nothing_else_uses():
    assert len(set(style.CLASS_COLOURS)) == 2 and set(style.CLASS_COLOURS) <= OKABE_ITO
    assert plots.CLASS_COLOURS is style.CLASS_COLOURS
    others = [style.RIGHT, style.WRONG, style.BASELINE, style.ORACLE, style.NEUTRAL, *style.SERIES]
    assert not any(same_color(other, c) for other in others for c in style.CLASS_COLOURS)
    assert not any(same_color(s, mark) for s in style.SERIES[:2] for mark in (style.RIGHT, style.WRONG))
    assert len(set(style.SERIES)) == len(style.SERIES) and set(style.SERIES) <= OKABE_ITO


def test_apply_sets_the_cycle_and_sizes_and_is_idempotent():
    with matplotlib.rc_context({"axes.prop_cycle": matplotlib.cycler(color=["#1f77b4", "#ff7f0e"]),
                                "font.size": 20, "axes.titlesize": 30, "figure.figsize": (1, 1)}):
        style.apply()
        first = dict(matplotlib.rcParams)
        assert [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]] == list(style.SERIES)
        assert matplotlib.rcParams["font.size"] == style.RC_PARAMS["font.size"]
        assert matplotlib.rcParams["axes.titlesize"] == style.RC_PARAMS["axes.titlesize"]
        assert tuple(matplotlib.rcParams["figure.figsize"]) == style.FIGSIZE
        style.apply()
        assert dict(matplotlib.rcParams) == first


def test_figures_of_series_never_draw_in_a_class_colour():
    """Importing helpers.plots applies the style: lines that are not classes skip blue and orange."""
    fig = plots.training_curves({"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_acc": [0.5, 0.7],
                                 "val_loss": [1.1, 0.8], "val_acc": [0.5, 0.6]})
    ax = plots.accuracy_vs_rounds({"a": [0.8, 0.82], "b": [0.8, 0.81], "c": [0.8, 0.79]}, baseline=0.8)
    lines = [line for a in [*fig.axes, ax] for line in a.lines]
    assert len(lines) >= 7
    assert not any(same_color(line.get_color(), c) for line in lines for c in style.CLASS_COLOURS)
    max_probs = torch.linspace(0.5, 1.0, 200)
    correct = torch.rand(200, generator=torch.Generator().manual_seed(0)) < max_probs
    diagram = plots.reliability_diagram(max_probs, correct)
    model_colours = {tuple(to_rgb(p.get_facecolor())) for p in diagram.patches}
    model_colours |= {to_rgb(line.get_color()) for line in diagram.lines[1:]}  # lines[0]: the diagonal
    assert model_colours == {to_rgb(style.SERIES[0])}  # one model, one colour
    plt.close("all")


def test_the_decision_boundary_marks_each_class_in_its_colour():
    toy = toy2d.make_toy("moons", seed=0, n_unlabeled=50)
    ax = plots.decision_boundary(toy2d.make_model("bumps", seed=0), toy.x_unlabeled, toy.x_labeled, toy.y_labeled)
    labelled = {h.get_label(): h.get_facecolor()[0] for h in ax.collections if h.get_label().startswith("labelled")}
    assert {k: tuple(np.round(v[:3], 3)) for k, v in labelled.items()} == {
        f"labelled, class {c}": tuple(np.round(to_rgb(style.CLASS_COLOURS[c]), 3)) for c in (0, 1)}
    plt.close("all")


# A matplotlib format string ("ro", "b--", "k."; "k" is allowed below), read only where plot takes one.
FORMAT_WITH_COLOUR = re.compile(r"^[-.:,o^v<>1-4sp*hH+xXDd|_]*([bgrcmykw])[-.:,o^v<>1-4sp*hH+xXDd|_]*$")
PLOT_CALLS = {"plot", "semilogx", "semilogy", "loglog"}
COLOUR_KEYWORDS = {"color", "colors", "c", "facecolor", "edgecolor", "ecolor", "mfc", "mec",
                   "markerfacecolor", "markeredgecolor"}


def _achromatic(colour: str) -> bool:
    red, green, blue = to_rgb(colour)
    return red == green == blue


def _colour_with_hue(text: str, role: str | None) -> bool:
    """``text`` names a colour with a hue. A lone letter counts only as a colour keyword's value
    (so that axis="y" is not yellow), a format string only as plot's ("dog" is not "d", "o", "g")."""
    if re.fullmatch(r"C\d+", text):
        return True  # a place in the cycle, whatever colour the cycle holds
    if role == "format" and (format_colour := FORMAT_WITH_COLOUR.match(text)):
        return not _achromatic(format_colour.group(1))
    if len(text) == 1 and role != "colour":
        return False
    return is_color_like(text) and not _achromatic(text)


def _coloured_colormap(name: str) -> bool:
    colours = matplotlib.colormaps[name](np.linspace(0, 1, 9))[:, :3]
    return not np.allclose(colours, colours[:, :1])


def hard_coded_colours(code: str) -> list[str]:
    """Each string in ``code`` that hard-codes a colour with a hue (see the module's docstring)."""
    tree = ast.parse(code)
    skip = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}  # docstrings
    skip |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}  # f-string text
    roles = {}  # id of a string constant -> "colour", "cmap" or "format"
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in COLOUR_KEYWORDS | {"cmap", "fmt"}:
            role = {"cmap": "cmap", "fmt": "format"}.get(node.arg, "colour")
            roles.update({id(value): role for value in ast.walk(node.value)})
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) in PLOT_CALLS:
            roles.update({id(arg): "format" for arg in node.args})
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in skip:
            continue
        role = roles.get(id(node))
        if role == "cmap":
            if node.value in matplotlib.colormaps and _coloured_colormap(node.value):
                found.append(f"cmap={node.value!r}")
        elif _colour_with_hue(node.value, role):
            found.append(repr(node.value))
    return found


def _sources():
    for path in sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("notebooks/solutions/*.ipynb")]):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                yield f"{path.relative_to(ROOT)} cell {i}", "".join(cell["source"])
    for path in sorted([*ROOT.glob("helpers/**/*.py"), ROOT / "pseudo_labeling.py"]):
        if path.name != "style.py":
            yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


@pytest.mark.parametrize("code, expected", [
    ('ax.bar(x, y, color="#f4a261")', ["'#f4a261'"]),
    ('ax.plot(x, y, color="C1"); ax.plot(x, y, "ro-")', ["'C1'", "'ro-'"]),
    ('colours = {"a": "tab:blue", "b": "red"}', ["'tab:blue'", "'red'"]),
    ('ax.imshow(m, cmap="Blues"); ax.scatter(x, y, c="r")', ["cmap='Blues'", "'r'"]),
    ('ax.axhline(0, color="0.5"); ax.plot(x, y, "k--", color="white"); ax.grid(axis="y")', []),
    ('ax.imshow(m, cmap="Greys"); ax.bar(x, y, color=plots.CLASS_COLOURS[0], label=f"red {name}")', []),
])
def test_the_scan_tells_a_hard_coded_hue_from_a_gray(code, expected):
    assert sorted(hard_coded_colours(code)) == sorted(expected)


def test_no_figure_hard_codes_a_colour_with_a_hue():
    sources = list(_sources())
    assert sum(name.startswith("notebooks/solutions") for name, _ in sources) > 10  # the scan sees them
    found = {name: colours for name, code in sources if (colours := hard_coded_colours(code))}
    assert not found, f"take these colours from helpers.style (plots.CLASS_COLOURS, plots.SERIES...): {found}"
