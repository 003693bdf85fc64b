"""What every notebook's exercise checkers share: the verdict (`ExerciseFailed`) and how an answer
is called, compared and reported (gadlib/lessons/exercises/exNN.py hold the checkers of notebook NN).

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

import inspect
import itertools
import sys
from contextlib import contextmanager

import numpy as np


class ExerciseFailed(AssertionError):
    """A checker's verdict: the answer is wrong, or not written yet."""


_WITHHELD = "gadlib: withheld while an exercise answer runs"


def _refuse(*args, **kwargs):
    # This code runs with the withheld function's module as its globals: a literal message and a
    # builtin exception are all it may rely on.
    raise LookupError("gadlib: withheld while an exercise answer runs")


@contextmanager
def withheld(functions):
    """While the block runs, calling any of `functions` raises instead of computing: the answer
    to an exercise must not be, wrap or call gadlib's implementation of what it asks for, nor the
    checker's reference. Swapping the code object (not the module attribute) catches every way
    of reaching the function: imported by name, through its module, or passed as the answer."""
    saved = [(f, f.__code__) for f in map(inspect.unwrap, functions)]
    try:
        for f, _ in saved:
            f.__code__ = _refuse.__code__
        yield
    finally:
        for f, code in saved:
            f.__code__ = code


def _call(answer, *args, what: str, withheld_functions=()):
    """answer(*args); a stub still raising NotImplementedError fails with one clear line, and so
    does an answer that calls one of `withheld_functions` (see `withheld`)."""
    if not callable(answer):
        raise ExerciseFailed(f"{what}: pass the function itself (e.g. check_x(my_function)), got {type(answer).__name__}")
    try:
        with withheld(withheld_functions):
            return answer(*args)
    except NotImplementedError:
        raise ExerciseFailed(f"{what}: not implemented yet (the function still raises NotImplementedError)") from None
    except LookupError as e:
        if e.args != (_WITHHELD,):
            raise
        names = ", ".join(f"{f.__module__}.{f.__name__}" for f in withheld_functions)
        raise ExerciseFailed(f"{what}: the answer calls gadlib's own implementation or the checker's reference "
                             f"({names}); write it yourself") from None


def python_lines(answer, *args) -> int:
    """How many lines of Python run in `answer`'s own source file (its cell) during answer(*args):
    a loop over a batch, a comprehension included, runs more of them for a larger batch. Counted
    while it runs (sys.settrace), so it needs no source text and no way of writing a loop escapes."""
    filename, count = answer.__code__.co_filename, 0

    def local(frame, event, arg):
        nonlocal count
        count += event == "line"
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename == filename else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        answer(*args)
    finally:
        sys.settrace(previous)
    return count


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


def _report_prediction(prediction: dict, measured: dict, tol: float, what: str, against: str = "measured") -> None:
    """The prediction, written before the run, side by side with what it is judged against: the
    measurement the student's answer has just matched (so nothing new is given away), or, where
    the measurement is noisy, the exact value (`against` names it). Where it was off is what the
    exercise's written answer explains."""
    _same_keys(prediction, measured, f"{what} (prediction)")
    off = {k: float(prediction[k]) - float(measured[k]) for k in measured}
    good = [k for k, d in off.items() if abs(d) <= tol]
    width = max(len(str(k)) for k in measured)
    print(f"  {'':{width}}  {'predicted':>10}  {against:>10}  {'off':>8}")
    for k in measured:
        mark = "" if k in good else "  <- explain below"
        print(f"  {str(k):{width}}  {float(prediction[k]):10.4g}  {float(measured[k]):10.4g}  {off[k]:+8.3g}{mark}")
    print(f"  your prediction was within {tol} of the {against} value for {len(good)}/{len(off)} entries"
          + ("" if len(good) == len(off) else f"; off for {[k for k in off if k not in good]}: explain why below"))


def _short_sequences(max_len: int, labels=(0, 1, 2)):
    """Every label sequence up to max_len frames, shortest first (smallest failing case first)."""
    for n in range(max_len + 1):
        yield from (np.array(s, dtype=np.int64) for s in itertools.product(labels, repeat=n))
