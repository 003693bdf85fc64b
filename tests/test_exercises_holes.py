"""The holes issue 29 found in the checkers stay closed: each answer below used to pass (or crash the
checker) and now fails with a message that says what is not allowed."""
from __future__ import annotations

import inspect
import math
import re

import nbformat
import numpy as np
import pytest

from gadlib.core.label_spaces import LabelSpace
from gadlib.evaluation import diversity as dv
from gadlib.lessons.exercises import common, ex01, ex02, ex03, ex04, ex05
from gadlib.lessons.exercises.common import ExerciseFailed
from gadlib.lessons.exercises.references import _namespace, reference
from gadlib.lessons.plots import error_sharing
from gadlib.tools import course

CALLS_GADLIB = "calls gadlib's own implementation or the checker's reference"


def _fails(check, *answers, says: str) -> str:
    with pytest.raises(ExerciseFailed) as e:
        check(*answers)
    assert says in str(e.value), str(e.value)
    return str(e.value)


# ---- 02: an answer that builds gadlib's own label space ------------------------------------------

NAMES = ex02.epic_like_names()
TOK = ex02.word_tokenizer(NAMES)


@pytest.mark.parametrize("check, mapping", [(ex02.check_rand_mapping, "rand"), (ex02.check_desync_mapping, "desync")])
def test_a_mapping_answer_may_not_build_a_label_space(check, mapping):
    msg = _fails(check, lambda text, pool, seed: LabelSpace(NAMES, TOK, mapping, seed=seed).sequences, says=CALLS_GADLIB)
    assert "LabelSpace.__init__" in msg and "write it yourself" in msg
    assert LabelSpace(NAMES, TOK, mapping, seed=0).sequences  # given back afterwards


def test_a_desync_answer_must_give_every_position_its_own_token():
    def one_token_per_label(text, pool, seed):
        draws = np.random.default_rng(seed).choice(pool, size=len(text), replace=False).tolist()
        return [[t] * len(s) for t, s in zip(draws, text)]
    _fails(ex02.check_desync_mapping, one_token_per_label, says="repeats token")


# ---- 03: the score from gadlib's per-class entropies or its row entropy -----------------------

@pytest.mark.parametrize("answer", [
    lambda e, m: float(np.nanmean(dv.per_class_error_entropy(e, m))) if (np.asarray(e).sum(1) >= m).any() else float("nan"),
    lambda e, m: float(np.mean([dv.entropy(r) for r in e if r.sum() >= m])) if (np.asarray(e).sum(1) >= m).any() else float("nan"),
    lambda e, m: dv.error_entropy(e, m, estimator="plugin"),
    lambda e, m: float(np.nanmean(dv._entropies(np.asarray(e, float)[np.asarray(e).sum(1) >= m], "plugin"))),
])
def test_the_entropy_answer_may_not_use_gadlibs_entropies(answer):
    _fails(ex03.check_error_entropy, answer, says=CALLS_GADLIB)


# ---- 01: an off-by-one edit distance ---------------------------------------------------------------

def _levenshtein_off_by_one(a: str, b: str) -> int:
    row = list(range(len(b)))                    # should be len(b) + 1 entries
    for i, ca in enumerate(a, 1):
        new = [i]
        for j, cb in enumerate(b, 1):
            new.append(min(row[j] + 1, new[j - 1] + 1, row[j - 1] + (ca != cb)))
        row = new
    return row[len(b)]


def test_an_answer_that_raises_gets_its_input_and_line_not_a_traceback():
    def snap(text, names):
        return int(np.argmin([_levenshtein_off_by_one(text, n) for n in names]))
    msg = _fails(ex01.check_snap, snap, says="your function raised IndexError")
    assert "when called with ('ab', ['ba', 'ab'])" in msg and "the smallest one it fails on" in msg
    assert "new.append(min(row[j] + 1" in msg                                # the line that raised


def test_an_index_past_the_list_is_a_clear_failure():
    def one_based(text, names):
        from rapidfuzz.distance import Levenshtein
        return int(np.argmin([Levenshtein.distance(text, n) for n in names])) + 1
    _fails(ex01.check_snap, one_based, says="returned 2, not an index of the list (0 to 1): an off-by-one?")


# ---- predict, then check: a prediction earns its point only when valid and written first ------------

def _measure_chance():
    pred, targets = ex01.chance_predictions(ex01.coin_like_names())
    return {"same_verb": error_sharing(pred, targets, ex01.coin_like_names())["same_verb"]}


@pytest.mark.parametrize("guess, says", [(5, "5 is outside [0, 1]"), (-0.1, "outside [0, 1]"), ("a lot", "is not a number"),
                                         (float("nan"), "not a finite number"), (True, "is not a number")])
def test_a_prediction_must_be_a_valid_value_of_the_asked_kind(guess, says):
    msg = _fails(ex01.check_chance_same_verb, lambda: {"same_verb": guess}, _measure_chance, says=says)
    assert "a share in [0, 1]" in msg and "valid value of the asked kind" in msg


@pytest.mark.parametrize("guess", [0.9, 0.0, 0.5])
def test_any_valid_prediction_written_first_earns_the_point_and_is_compared(guess, capsys):
    ex01.check_chance_same_verb(lambda: {"same_verb": guess}, _measure_chance)
    out = capsys.readouterr().out
    assert "passed" in out and "predicted" in out


def test_a_prediction_may_not_measure():
    _fails(ex01.check_chance_same_verb, _measure_chance, _measure_chance, says="the prediction measures")
    _fails(ex01.check_chance_same_verb, lambda: {"same_verb": _measure_chance()["same_verb"]}, _measure_chance,
           says="the prediction measures")
    _fails(ex01.check_chance_same_verb, lambda: {"same_verb": reference("chance_same_verb")(ex01.coin_like_names())},
           _measure_chance, says="the prediction measures")
    _fails(ex05.check_late_predictions, lambda: {d: {"seg_f1_0.5": ex05.segment_f1([np.ones(4)], [np.ones(4)], 0.5),
                                                     "point_f1_1s": 1.0} for d in (0, 2, 4, 8)},
           lambda: {}, says="the prediction measures")


def test_a_prediction_changed_after_the_measurement_was_shown_fails():
    ex01.check_chance_same_verb(lambda: {"same_verb": 0.3}, _measure_chance)
    ex01.check_chance_same_verb(lambda: {"same_verb": 0.3}, _measure_chance)   # unchanged: still fine
    _fails(ex01.check_chance_same_verb, lambda: {"same_verb": 0.04}, _measure_chance,
           says="the prediction changed after this session showed the measurement")
    common.forget_predictions()                                                  # a fresh kernel
    ex01.check_chance_same_verb(lambda: {"same_verb": 0.04}, _measure_chance)


def test_every_prediction_kind_is_checked():
    counts = {"text": 60, "rand": 60, "desync": 60.5, "extend": 30}
    _fails(ex02.check_distinct_tokens, lambda: counts, lambda: {}, says="60.5 is not a whole number")
    _fails(ex03.check_few_vs_many, lambda: {"raw_gap": 3.0, "miller_madow_gap": 0, "matched_gap": 0}, lambda: {},
           says=f"3 is outside [-{math.log(3) + 1 / 6:.3g}, {math.log(3) + 1 / 6:.3g}]")
    orders = dict.fromkeys((*ex04.ORDERS_04, "disc_first predict"), 10)
    _fails(ex04.check_lm_positions, lambda: {**orders, "parallel": 0}, lambda: {}, says="0 is outside [1,")
    _fails(ex05.check_late_predictions, lambda: {d: {"seg_f1_0.5": 2, "point_f1_1s": 1} for d in (0, 2, 4, 8)},
           lambda: {}, says="2 is outside [0, 1]")


# ---- references out of inspect's reach; no student edition prints an answer --------------------------

def test_no_reference_source_can_be_read_with_inspect():
    names = [k for k, v in _namespace().items() if inspect.isfunction(v)]
    assert {"snap", "cls_readout", "chance_same_verb", "snap_recovery", "few_many_gaps", "previous_actions",
            "gad_loss", "lora_measurement", "positions_measurement"} <= set(names)
    for name in names:
        with pytest.raises(OSError):
            inspect.getsource(reference(name))


def test_no_checker_source_holds_a_reference():
    """Every code line of a reference's body is absent from the checkers' modules."""
    source = (course.repo_root() / course.REFERENCES_SOURCE).read_text()
    body = [line.strip() for line in source.splitlines()
            if line.startswith("    ") and len(line.strip()) > 24 and not line.strip().startswith(('"""', "from ", "import "))]
    body = [line for line in body if re.search(r"[-+*/\[]", line)]   # a formula, not a call of a given helper
    assert len(body) >= 15
    checkers = "".join(inspect.getsource(m) for m in (common, ex01, ex02, ex03, ex04, ex05))
    leaked = [line for line in body if line in checkers]
    assert not leaked, leaked
    assert "count(v) - 1" not in inspect.getsource(ex01.check_chance_same_verb)


def test_the_encoded_references_are_current():
    assert course.write_reference_blob(check=True) == [], "run: python -m gadlib.course build"


WITHHELD = {f.__name__ for f in (*ex03.ENTROPY_IMPLEMENTATIONS, dv.error_counts, ex05.segments, ex05.segment_f1)}


@pytest.mark.parametrize("stem", course.course_notebooks())
def test_no_student_edition_shows_the_source_of_an_exercises_answer(stem):
    nb = nbformat.read(course.student_path(stem), as_version=4)
    for i, cell in enumerate(nb.cells):
        shown = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
        for name in WITHHELD:
            assert not re.search(rf"getsource\([\w.]*\b{name}\b", cell.source), (stem, i, name)
            assert f"def {name}(" not in shown, (stem, i, name)
