"""The paper's published numbers, quoted once, for every notebook's "side by side with the paper".

Pang, Chatterjee, Sener, Yao, *On Discriminative vs. Generative classifiers: Rethinking MLLMs for
Action Understanding*, ICLR 2026, arXiv:2603.02546. Values are as printed (percent, FPS, nats);
keys use our synthetic look-alike's preset name where a notebook compares against one.
tests/test_paper.py checks each value against the project's paper notes, and tests/test_prose.py
lets a notebook's markdown quote only these numbers (any other number must come from the run).
"""

CITATION = "Pang et al., ICLR 2026, arXiv:2603.02546"

# OAD table: segment F1 @ IoU 0.1 / point F1 @ 1 s / streaming FPS (None: not published).
OAD = {
    "thumos_like":    {"generative": (56.9, 38.8, 38.3), "discriminative": (57.8, 40.1, 58.0), "gad": (58.1, 40.2, None)},
    "crosstask_like": {"generative": (46.8, 31.7, 44.0), "discriminative": (48.8, 34.0, 59.4), "gad": (50.3, 34.5, None)},
    "epic_like":      {"generative": (16.7, 13.9, 28.8), "discriminative": (23.2, 19.3, 51.1), "gad": (24.1, 20.1, None)},
}

# GAD ablations on OAD: S-F1 / P-F1 on CrossTask, then on EK100 (notebook 04).
OAD_ABLATIONS = {
    "generative": (46.8, 31.7, 16.7, 13.9), "discriminative": (48.8, 34.0, 23.2, 19.3), "gad": (50.3, 34.5, 24.1, 20.1),
    "gad_extra_head": (48.2, 31.6, 23.6, 19.3), "two_stage": (41.8, 26.7, 9.3, 6.7), "no_cls": (49.2, 33.8, 20.7, 17.7)}

# Tokenization study, EK100 OAD: S-F1 / P-F1 of the generative classifier per label mapping (notebooks 02, 05).
TOKENIZATION = {"gen_text": (16.7, 13.9), "gen_rand": (16.8, 14.0), "gen_desync": (23.0, 19.0),
                "gen_extend": (23.3, 19.2), "discriminative": (23.2, 19.3)}

# COIN top-1 with Llama-3.2-1B: step recognition / step forecasting / task recognition (notebook 01).
COIN = {"discriminative": {"step": 64.1, "next": 50.1, "task": 92.8},
        "gad": {"step": 65.3, "next": 51.4, "task": 93.5}}

# Misclassification entropy (nats) on CrossTask / EK100 / Ego4D-GoalStep OAD (notebook 03).
ERROR_ENTROPY = {"crosstask_like": {"generative": 0.76, "discriminative": 0.66},
                 "epic_like": {"generative": 1.3, "discriminative": 0.79},
                 "goalstep_like": {"generative": 1.8, "discriminative": 1.5}}


def numbers() -> set[float]:
    """Every number quoted above (what a notebook's prose may cite from the paper)."""
    found = set()

    def walk(value):
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v)
        elif isinstance(value, (int, float)):
            found.add(float(value))

    walk([OAD, OAD_ABLATIONS, TOKENIZATION, COIN, ERROR_ENTROPY])
    return found


# The paper's A − B for a comparison a notebook mirrors (None where the paper has no such pair).
OAD_METRICS = {"seg_f1_0.1": 0, "point_f1_1s": 1}


def oad_effect(preset: str, a: str, b: str, metric: str = "seg_f1_0.1") -> float | None:
    """The paper's OAD A − B (points) on the data set `preset` mimics; None where unpublished."""
    row, i = OAD.get(preset, {}), OAD_METRICS.get(metric)
    if i is None or a not in row or b not in row or row[a][i] is None or row[b][i] is None:
        return None
    return round(row[a][i] - row[b][i], 1)


def ablation_effect(a: str, b: str, data: str = "crosstask_like", metric: str = "seg_f1_0.1") -> float | None:
    """The paper's A − B in its GAD ablation table (CrossTask or EK100, S-F1 or P-F1)."""
    col = {"crosstask_like": 0, "epic_like": 2}.get(data)
    if col is None or metric not in OAD_METRICS or a not in OAD_ABLATIONS or b not in OAD_ABLATIONS:
        return None
    i = col + OAD_METRICS[metric]
    return round(OAD_ABLATIONS[a][i] - OAD_ABLATIONS[b][i], 1)


def tokenization_effect(a: str, b: str, metric: str = "seg_f1_0.1") -> float | None:
    """The paper's A − B in its EK100 tokenization study (generative label mappings)."""
    i = OAD_METRICS.get(metric)
    if i is None or a not in TOKENIZATION or b not in TOKENIZATION:
        return None
    return round(TOKENIZATION[a][i] - TOKENIZATION[b][i], 1)


def coin_effect(a: str, b: str, kind: str) -> float | None:
    """The paper's COIN top-1 A − B (1B backbone): only GAD and discriminative are published."""
    if a not in COIN or b not in COIN:
        return None
    return round(COIN[a][kind] - COIN[b][kind], 1)


def entropy_effect(preset: str, a: str = "generative", b: str = "discriminative") -> float | None:
    """The paper's misclassification-entropy A − B (nats)."""
    row = ERROR_ENTROPY.get(preset, {})
    return round(row[a] - row[b], 2) if a in row and b in row else None


# An equality claim ("A ≈ B") is judged against a margin: half the paper's discriminative −
# generative S-F1 gap on the same data set (EK100: 6.5 points -> 3.25), i.e. two methods count as
# equal when they differ by less than half the effect the paper reports as a win in that table.
EQUALITY_SHARE = 0.5


def equality_margin(preset: str = "epic_like", metric: str = "seg_f1_0.1") -> float:
    """The margin of the paper's "≈" claims on `preset` (see EQUALITY_SHARE)."""
    return round(EQUALITY_SHARE * abs(oad_effect(preset, "discriminative", "generative", metric)), 2)
