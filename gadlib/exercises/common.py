"""What every notebook's exercise checkers share: the verdict (`ExerciseFailed`) and how an answer
is called, compared and reported (gadlib/exercises/exNN.py hold the checkers of notebook NN).

Checkers for the graded exercises at the end of every notebook: `check_<name>(answer)`.

An answer is a function the student wrote (every solution lives in a function body, so a student
edition, where the body is `raise NotImplementedError`, still runs top to bottom). A checker calls
it on small inputs, compares with a reference it computes right then with gadlib, scikit-learn or
rapidfuzz (no stored numbers), and raises `ExerciseFailed` (an AssertionError, so nbgrader and
pytest count it as a failed test) saying what is wrong: a shape, a tolerance, the smallest input
that fails. Function answers are shown the expected output of that one small case; measured
numbers are never shown (they would be the answer).

The exercises: every notebook (01-05), section "Exercises"; docs/instructors.md says which
lecture each fits and how long it takes.
"""
from __future__ import annotations

import itertools

import numpy as np


class ExerciseFailed(AssertionError):
    """A checker's verdict: the answer is wrong, or not written yet."""


def _call(answer, *args, what: str):
    """answer(*args); a stub still raising NotImplementedError fails with one clear line."""
    if not callable(answer):
        raise ExerciseFailed(f"{what}: pass the function itself (e.g. check_x(my_function)), got {type(answer).__name__}")
    try:
        return answer(*args)
    except NotImplementedError:
        raise ExerciseFailed(f"{what}: not implemented yet (the function still raises NotImplementedError)") from None


def _passed(what: str, detail: str) -> None:
    print(f"✓ {what}: passed ({detail})")


def _close(got, want, tol: float) -> bool:
    return bool(np.isfinite(got)) and abs(float(got) - float(want)) <= tol


def _same_keys(got, keys, what: str) -> dict:
    if not isinstance(got, dict):
        raise ExerciseFailed(f"{what}: return a dict with keys {sorted(keys, key=str)}, got {type(got).__name__}")
    missing, extra = [k for k in keys if k not in got], [k for k in got if k not in keys]
    if missing or extra:
        raise ExerciseFailed(f"{what}: the dict's keys should be {sorted(keys, key=str)}; missing {missing}, unexpected {extra}")
    return got


def _check_measured(got: dict, want: dict, tol: float, what: str, hint: str) -> None:
    """Each measured value against a recomputation, without telling the recomputed value."""
    _same_keys(got, want, what)
    for k in want:
        if not _close(got[k], want[k], tol):
            raise ExerciseFailed(f"{what}: the value for {k!r} does not match a recomputation with gadlib "
                                 f"(tolerance {tol}). {hint}")


def _report_prediction(prediction: dict, measured: dict, tol: float, what: str) -> None:
    _same_keys(prediction, measured, f"{what} (prediction)")
    off = {k: float(prediction[k]) - float(measured[k]) for k in measured}
    good = [k for k, d in off.items() if abs(d) <= tol]
    print(f"  your prediction was within {tol} of the measurement for {len(good)}/{len(off)} entries"
          + ("" if len(good) == len(off) else f"; off for {[k for k in off if k not in good]}: explain why below"))


def _short_sequences(max_len: int, labels=(0, 1, 2)):
    """Every label sequence up to max_len frames, shortest first (smallest failing case first)."""
    for n in range(max_len + 1):
        yield from (np.array(s, dtype=np.int64) for s in itertools.product(labels, repeat=n))
