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
