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

import copy
import inspect
import itertools
import math
import reprlib
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass

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
    saved = []
    try:
        for f in {id(f): f for f in map(inspect.unwrap, functions)}.values():   # each once
            code = f.__code__
            try:
                f.__code__ = _refuse.__code__
            except ValueError:   # a closure (a student's nested function): its code cannot be swapped
                continue
            saved.append((f, code))
        yield
    finally:
        for f, code in saved:
            f.__code__ = code


def _shown(value) -> str:
    """A short repr of an answer's input: arrays and tensors by shape, long lists cut."""
    if hasattr(value, "shape") and getattr(value, "ndim", 0) > 1:
        return f"<{type(value).__name__} of shape {tuple(value.shape)}>"
    if hasattr(value, "tolist"):
        value = value.tolist()
    short = reprlib.Repr()
    short.maxlist, short.maxstring, short.maxother = 8, 60, 60
    return short.repr(value)


def _where(error: BaseException, answer) -> str:
    """'; line 4 of your function: `row[j + 1] = ...`' for the last frame of the traceback that
    runs in the answer's own source file (its notebook cell), '' when there is none."""
    filename = getattr(getattr(inspect.unwrap(answer), "__code__", None), "co_filename", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    return f"; at `{frames[-1].line}` in your cell (line {frames[-1].lineno})" if frames and frames[-1].line else ""


def _call(answer, *args, what: str, withheld_functions=(), refused: str | None = None):
    """answer(*args); a stub still raising NotImplementedError fails with one clear line, and so
    does an answer that calls one of `withheld_functions` (see `withheld`; `refused` replaces the
    message) and an answer that raises: the error, the input (checkers try the smallest inputs
    first, so it is the smallest one the answer fails on) and the line of the answer that raised,
    instead of a traceback through the checker."""
    if not callable(answer):
        raise ExerciseFailed(f"{what}: pass the function itself (e.g. check_x(my_function)), got {type(answer).__name__}")
    try:
        with withheld(withheld_functions):
            return answer(*args)
    except NotImplementedError:
        raise ExerciseFailed(f"{what}: not implemented yet (the function still raises NotImplementedError)") from None
    except LookupError as e:
        if e.args != (_WITHHELD,):
            failure = _raised(e, answer, args, what)
        else:
            names = ", ".join(f"{f.__module__}.{f.__qualname__}" for f in map(inspect.unwrap, withheld_functions))
            failure = ExerciseFailed(f"{what}: " + (refused or "the answer calls gadlib's own implementation or the "
                                                   "checker's reference") + f" ({names}); write it yourself")
    except ExerciseFailed:
        raise
    except Exception as e:  # the answer crashed: say where, on which input, without the checker's traceback
        failure = _raised(e, answer, args, what)
    raise failure from None


def _raised(error: Exception, answer, args, what: str) -> ExerciseFailed:
    shown = ", ".join(_shown(a) for a in args)
    smallest = (". The checker tries the smallest inputs first: this is the smallest one it fails on" if args else "")
    return ExerciseFailed(f"{what}: your function raised {type(error).__name__}: {error} when called with ({shown})"
                          f"{_where(error, answer)}{smallest}")


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


@dataclass(frozen=True)
class Kind:
    """What a predicted value must be to earn its point: a number in [low, high] (a whole number
    when `whole`), or one of `choices`. `what` says it in words ("a share in [0, 1]")."""
    what: str
    low: float = -math.inf
    high: float = math.inf
    whole: bool = False
    choices: tuple = ()

    def problem(self, value) -> str | None:
        """Why `value` is not of this kind; None when it is."""
        if self.choices:
            return None if value in self.choices else f"{value!r} is not one of the options {list(self.choices)}"
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return f"{value!r} is not a number"
        x = float(value)
        if not math.isfinite(x):
            return f"{x} is not a finite number"
        if self.whole and not x.is_integer():
            return f"{x:g} is not a whole number"
        if not self.low <= x <= self.high:
            return f"{x:g} is outside [{self.low:.3g}, {self.high:.3g}]"
        return None


SHARE = Kind("a share in [0, 1]", 0.0, 1.0)

# The prediction each "predict, then check" exercise showed beside its measurement in this
# session (kernel): one changed afterwards was not written before measuring.
_shown_predictions: dict[str, str] = {}
_pending_predictions: dict[str, str] = {}


def _frozen(value) -> str:
    return repr(_plain(value))


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def forget_predictions() -> None:
    """Forget the predictions shown so far (a fresh kernel; the tests call it between tests)."""
    _shown_predictions.clear()
    _pending_predictions.clear()


def _predicted(predict, kinds: dict, what: str, measuring=()) -> dict:
    """The prediction of a "predict, then check" exercise, taken *before* anything is measured.

    It earns its point only when it is (1) written before the measurement: predict() runs first,
    with the student's measuring function, the checker's reference and the gadlib functions that
    measure (`measuring`) withheld, so it cannot be computed from the measurement, and it must not
    have changed since this session showed the measurement beside it; and (2) a valid value of the
    asked kind (`kinds`: {key: Kind}, nested like the prediction): a number in range, or one of
    the options. How near it came is not graded here: the written explanation carries the rest."""
    label = f"{what} (prediction)"
    guess = _call(predict, what=label, withheld_functions=measuring,
                  refused="the prediction measures: it calls the measurement or what it measures with")
    guess = copy.deepcopy(guess)

    def valid(got, kind_of, where: str):
        _same_keys(got, kind_of, label + where)
        for k, kind in kind_of.items():
            if isinstance(kind, dict):
                valid(got[k], kind, f"{where}, {k}")
            elif (problem := kind.problem(got[k])) is not None:
                raise ExerciseFailed(f"{label}{where}: the value for {k!r}, {problem}, is not {kind.what}: a "
                                     "prediction earns its point only as a valid value of the asked kind")
    valid(guess, kinds, "")
    now, first = _frozen(guess), _shown_predictions.get(what)
    if first is not None and now != first:
        raise ExerciseFailed(f"{label}: the prediction changed after this session showed the measurement beside it "
                             f"(then {first}, now {now}); a prediction earns its point only when written before "
                             "measuring: put back the first one and explain the difference in the answer below")
    _pending_predictions[what] = now
    return guess


def _report_prediction(prediction: dict, measured: dict, tol: float, what: str, against: str = "measured") -> None:
    """The prediction, written before the run, side by side with what it is judged against: the
    measurement the student's answer has just matched (so nothing new is given away), or, where
    the measurement is noisy, the exact value (`against` names it). Where it was off is what the
    exercise's written answer explains. From here on this session remembers the prediction
    (`_predicted` refuses a changed one)."""
    _same_keys(prediction, measured, f"{what} (prediction)")
    if what in _pending_predictions:
        _shown_predictions.setdefault(what, _pending_predictions.pop(what))
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
