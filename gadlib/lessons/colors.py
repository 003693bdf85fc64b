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
# apart by hatching, panels or other palettes (`class_palette` avoids the families' colours).
_FAMILY = dict(zip(("generative", "discriminative", "gad"), sns.color_palette("colorblind", 3)))
_SHADES = {  # variant -> (family, lightness); the family colour itself has lightness ~0.35
    # lightness spans 0.14-0.73 in steps of >= 0.1, so no two look alike (exact decoding is also
    # hatched: `method_hatch`)
    "generative_exact": ("generative", 0.24), "gen_rand": ("generative", 0.60), "gen_desync": ("generative", 0.73),
    "gen_extend": ("generative", 0.48), "gen_extend_exact": ("generative", 0.14),
}
# GAD's variants, by kind of ablation: ordering in purples, the generated target in olive / yellow,
# λ as a light-to-dark red ramp (small to large λ), the readout ([CLS] replaced) in browns; every two
# at least 0.19 apart in RGB, and none near a family's colour or two_stage's.
GAD_VARIANT_COLORS = {
    "gad_gen_first": (0.36, 0.22, 0.60), "gad_parallel": (0.70, 0.62, 0.88),
    "gad_previous_action": (0.42, 0.45, 0.05), "gad_label": (0.86, 0.82, 0.28),
    "gad_lam_0": (0.98, 0.85, 0.82), "gad_lam_0.1": (0.94, 0.58, 0.52), "gad_lam_0.3": (0.76, 0.22, 0.20),
    "gad_lam_3": (0.42, 0.04, 0.06),
    "gad_extra_head": (0.52, 0.33, 0.18), "no_cls": (0.76, 0.64, 0.50),
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


def class_palette(n: int) -> list:
    """`n` distinct colours for classes: tab20 / tab20b / tab20c without the ones that look like a method's
    family colour or like grey (background, chance lines); husl hues beyond that."""
    method_rgb = np.array([c[:3] for c in (*_FAMILY.values(), METHOD_COLORS["two_stage"])])
    pool = []
    for cmap in ("tab20", "tab20b", "tab20c"):
        for c in plt.get_cmap(cmap).colors:
            c = np.asarray(c[:3])
            if np.ptp(c) < 0.12 or np.linalg.norm(method_rgb - c, axis=1).min() < 0.2:
                continue
            if all(np.linalg.norm(c - p) > 0.1 for p in pool):
                pool.append(c)
    if n <= len(pool):
        return [tuple(c) for c in pool[:n]]
    return [tuple(c) for c in sns.husl_palette(n, s=0.85, l=0.6)]
