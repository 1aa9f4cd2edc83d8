"""The course's look in one place: a colour-blind-safe palette, one colour per class, font and figure sizes.

helpers.plots calls apply() when it is imported, so every notebook that imports helpers draws with it.
Figures name colours from here (plots re-exports them); a colour with a hue written anywhere else
is a test failure (tests/test_style.py), so that blue always means class 0 and orange class 1.
"""
from __future__ import annotations

import matplotlib as mpl

# Okabe & Ito, "Color Universal Design" (2008): eight colours that stay apart under the common
# colour-vision deficiencies and in grayscale print.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#e69f00",
    "sky blue": "#56b4e9",
    "bluish green": "#009e73",
    "yellow": "#f0e442",
    "blue": "#0072b2",
    "vermillion": "#d55e00",
    "reddish purple": "#cc79a7",
}

CLASS_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["orange"])  # class 0 (cat), class 1 (dog): in every figure
RIGHT, WRONG = OKABE_ITO["bluish green"], OKABE_ITO["vermillion"]  # a pseudo-label graded with the hidden truth
BASELINE, ORACLE = "0.45", "0.1"  # reference lines: grays, which belong to no class and no method
NEUTRAL = "0.6"                   # points or bars that carry no label (the unlabelled pool)

# Series that are not classes (methods, rounds, splits, settings): the default colour cycle.
# It leaves out blue and orange, so a method's line never reads as "cats" or "dogs", and it
# starts with the colours furthest from right/wrong, which may share a figure with it.
SERIES = tuple(OKABE_ITO[name] for name in
               ("reddish purple", "sky blue", "black", "bluish green", "vermillion", "yellow"))

# Sizes in points and inches. The fonts are matplotlib's defaults, written down so that the stored
# figures' layouts hold and one edit here would change every figure; figures set their own figsize.
FIGSIZE = (6.0, 4.0)
RC_PARAMS = {
    "axes.prop_cycle": mpl.cycler(color=list(SERIES)),
    "figure.figsize": FIGSIZE,
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 12,
}


def apply() -> None:
    """Set the course's colour cycle, fonts and sizes in matplotlib.rcParams (safe to call again)."""
    mpl.rcParams.update(RC_PARAMS)
