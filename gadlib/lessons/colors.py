"""The figures' colours: one per method (and variant) in every notebook, and a palette for classes
that never looks like a method.

Explained in notebooks/01_generative_vs_discriminative.ipynb.
"""
from __future__ import annotations

import colorsys

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

# One colour per method in every notebook's figures: the three families take seaborn's colour-blind
# blue / orange / green. A generative variant (notebook 02 shows six side by side) takes its own shade
# (HLS lightness) of the family's blue. GAD's eleven ablation variants (notebook 04) are too many for
# shades of one green to be told apart, so GAD's green is the paper's GAD alone and each variant has a
# colour of its own, off every family's hue, one hue per kind of ablation (`GAD_VARIANT_COLORS`).
# These colours mean methods and nothing else: batch sizes, scores, data sets and classes are told
# apart by hatching, panels or other palettes (`class_palette` avoids the families' colours and
# two_stage's, which notebooks that draw classes show beside them; GAD's variants are drawn only in
# notebook 04, which draws no classes, so their hues may recur as class colours elsewhere).
_FAMILY = dict(zip(("generative", "discriminative", "gad"), sns.color_palette("colorblind", 3)))
_SHADES = {  # variant -> (family, lightness); the family colour itself has lightness ~0.35
    # lightness spans 0.14-0.73 in steps of >= 0.1, so no two look alike (exact decoding is also
    # hatched: `method_hatch`)
    "generative_exact": ("generative", 0.24), "gen_rand": ("generative", 0.60), "gen_desync": ("generative", 0.73),
    "gen_extend": ("generative", 0.48), "gen_extend_exact": ("generative", 0.14),
}
# GAD's variants, by kind of ablation: ordering in purples, the generated target in olive / yellow,
# λ as a light-to-dark red ramp (small to large λ), the extra head (no generation) slate, the
# readout ([CLS] replaced) tan; every two
# at least 0.19 apart in RGB, and none near a family's colour or two_stage's.
GAD_VARIANT_COLORS = {
    "gad_gen_first": (0.36, 0.22, 0.60), "gad_parallel": (0.70, 0.62, 0.88),
    "gad_previous_action": (0.42, 0.45, 0.05), "gad_label": (0.86, 0.82, 0.28),
    "gad_lam_0": (0.98, 0.85, 0.82), "gad_lam_0.1": (0.97, 0.70, 0.62), "gad_lam_0.3": (0.76, 0.22, 0.20),
    "gad_lam_3": (0.42, 0.04, 0.06),
    "gad_extra_head": (0.45, 0.50, 0.62), "no_cls": (0.76, 0.64, 0.50),
}
ALIASES = {"gen_text": "generative", "gen_text_exact": "generative_exact"}  # notebook 02's names of the same methods


def _shade(rgb, lightness: float) -> tuple:
    h, _, s = colorsys.rgb_to_hls(*rgb)
    return colorsys.hls_to_rgb(h, lightness, s * (0.9 if lightness > 0.6 else 1.0))


METHOD_COLORS = {**_FAMILY, **{m: _shade(_FAMILY[f], lit) for m, (f, lit) in _SHADES.items()}, **GAD_VARIANT_COLORS,
                 # two-stage (a generative model, then a classifier on it): its own colour, no family's shade
                 "two_stage": sns.color_palette("colorblind", 5)[4]}
METHOD_COLORS.update({a: METHOD_COLORS[m] for a, m in ALIASES.items()})
UNKNOWN_METHOD_COLOR = (0.3, 0.3, 0.3)


def method_family(method: str) -> str | None:
    """'generative', 'discriminative' or 'gad' for a method or one of its variants; None if unknown."""
    if method in ALIASES:
        method = ALIASES[method]
    if method in _FAMILY:
        return method
    if method in _SHADES:
        return _SHADES[method][0]
    if method in GAD_VARIANT_COLORS:
        return "gad"
    if method == "two_stage":
        return None
    for prefix, family in (("gen", "generative"), ("disc", "discriminative"), ("gad", "gad")):
        if method.startswith(prefix):
            return family
    return None


def method_color(method: str):
    """The method's colour (`METHOD_COLORS`); an unlisted variant ("gad_lam_10") takes its family's colour,
    an unknown method a dark grey."""
    if method in METHOD_COLORS:
        return METHOD_COLORS[method]
    family = method_family(method)
    return _FAMILY[family] if family else UNKNOWN_METHOD_COLOR


def method_hatch(method: str) -> str:
    """The hatching of a method's bars where variants sit side by side: "//" for exact decoding (a
    variant that scores every class), none otherwise."""
    return "//" if method.endswith("_exact") else ""


# Where methods are drawn as lines that may run on top of each other (learning curves), each family
# also has its own dash and marker, so the lower line shows through the upper one.
_LINES = {"generative": ("-", "o"), "discriminative": ("--", "s"), "gad": (":", "^")}


def method_line(method: str) -> tuple[str, str]:
    """(line style, marker) of a method's family; solid and a circle for anything else."""
    return _LINES.get(method_family(method), ("-", "o"))


# Class colours take only hues far from every method's (blue ~200 deg, orange ~40, green ~160, the two-stage
# pink ~310): reds, yellows (darkened, `_class_colour`) and violets, each in several lightnesses. A pale
# blue, a light orange or a green would read as "the generative / discriminative / GAD model" in a figure
# that shows both.
_CLASS_HUES = (0, 60, 270, 342, 79, 288)                    # degrees, in the order classes take them
_CLASS_LIGHTNESS = (0.5, 0.32, 0.68, 0.41, 0.59, 0.23, 0.77)  # the first six classes differ in hue, then in lightness
_CLASS_BANDS = ((332, 368), (56, 84), (262, 290))             # the hues allowed; 368 = 8 past 360 (the reds wrap)


_YELLOWS = (45, 100)   # hues (degrees) whose full-strength shades are too pale to read on white


def _class_colour(hue_deg: float, lightness: float) -> tuple:
    # a yellow looks far lighter than a red or violet of the same HLS lightness: its lightnesses are
    # compressed into a darker range (mustard to olive), still 0.05 apart, so it reads on white
    if _YELLOWS[0] <= hue_deg % 360 <= _YELLOWS[1]:
        lightness = 0.06 + 0.55 * lightness
    return colorsys.hls_to_rgb((hue_deg % 360) / 360, lightness, 0.9)


def _contrast_on_white(c) -> float:
    """WCAG contrast ratio of colour `c` against white."""
    lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c[:3]]
    return 1.05 / (0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] + 0.05)


def _spread(colours: list) -> list:
    """The colours reordered so that each next one is the farthest (RGB) from all before it, among those
    that read on white first: a figure with a handful of classes gets the most distinct ones (with only
    three hue bands free of the methods' hues, two reds or two violets of one lightness looked alike)."""
    readable = [c for c in colours if _contrast_on_white(c) >= 1.8]
    order, rest = [readable[0]], readable[1:]
    while rest:
        far = max(rest, key=lambda c: min(np.linalg.norm(np.subtract(c, o)) for o in order))
        order.append(far)
        rest.remove(far)
    return order + [c for c in colours if c not in order]


def class_palette(n: int) -> list:
    """`n` distinct colours for classes, none with a method's hue nor grey (background, chance lines):
    six hues (`_CLASS_HUES`) at seven lightnesses first (42 colours), then further hues inside the
    allowed bands at the same lightnesses."""
    base = _spread([tuple(np.round(_class_colour(h, lit), 4)) for lit in _CLASS_LIGHTNESS for h in _CLASS_HUES])
    if n <= len(base):
        return base[:n]
    more = []
    for step in range(2, 64):   # ever finer hue grids inside the bands until there are enough
        for lo, hi in _CLASS_BANDS:
            for hue in np.linspace(lo, hi, step + 1)[1:-1]:
                more += [_class_colour(hue, lit) for lit in _CLASS_LIGHTNESS]
        pool = list(dict.fromkeys(base + [tuple(np.round(c, 4)) for c in more]))
        if len(pool) >= n:
            return pool[:n]
    raise ValueError(f"class_palette: {n} classes is more than it can colour apart")
