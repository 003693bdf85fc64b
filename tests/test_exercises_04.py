"""Notebook 04's checkers reject wrong answers with a useful message, accept a correct one, and
never print a measured value (tests/test_course.py runs the notebook's exercise section)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gadlib.lessons.exercises.common import ExerciseFailed
from gadlib.lessons.exercises.references import reference
from gadlib.lessons.exercises.ex04 import (check_gad_loss,
                                   check_lm_positions, check_lora_removal, check_previous_actions,
                                   gad_loss_inputs)

_lora_measurement, _positions_measurement = reference("lora_measurement"), reference("positions_measurement")
from gadlib.evaluation.metrics import segments
from gadlib.data.samples import NO_PREVIOUS_ACTION


def _fails(check, *answers, says: str) -> str:
    with pytest.raises(ExerciseFailed) as e:
        check(*answers)
    assert says in str(e.value), str(e.value)
    return str(e.value)


def _previous_by_segments(labels, names, strict=False):
    # an independent solution: the last segment whose end is <= t (or < t: an off-by-one)
    segs = segments(labels)
    out = []
    for t in range(len(labels)):
        done = [label for label, _, end in segs if (end < t if strict else end <= t)]
        out.append(names[done[-1] - 1] if done else NO_PREVIOUS_ACTION)
    return out


def test_previous_actions_accepts_an_independent_solution_and_rejects_an_off_by_one():
    check_previous_actions(_previous_by_segments)
    msg = _fails(check_previous_actions, lambda l, n: _previous_by_segments(l, n, strict=True), says="returned")
    assert "previous_actions([1, 0]" in msg  # the smallest failing case is shown
    current = lambda labels, names: [names[k - 1] if k else NO_PREVIOUS_ACTION for k in labels]
    _fails(check_previous_actions, current, says="expected")
    _fails(check_previous_actions, lambda l, n: [], says="one name per frame")


def _gad_loss(cls_mean="weighted", gen_mean="tokens"):
    def loss(class_logits, targets, weights, token_logits, token_targets, lam):
        per = F.cross_entropy(class_logits, targets, reduction="none")
        l_cls = (per * weights).sum() / weights.sum() if cls_mean == "weighted" else per.mean()
        tok = F.cross_entropy(token_logits.transpose(1, 2), token_targets, ignore_index=-100, reduction="none")
        real = (token_targets != -100).float()
        l_gen = (tok.sum() / real.sum()) if gen_mean == "tokens" else ((tok.sum(1) / real.sum(1)).mean())
        return l_cls + lam * l_gen
    return loss


def test_gad_loss_checker_names_which_term_is_wrong():
    check_gad_loss(_gad_loss())
    _fails(check_gad_loss, _gad_loss(cls_mean="plain"), says="at lam = 0 only L_cls is left")
    _fails(check_gad_loss, _gad_loss(gen_mean="samples"), says="not a mean of per-sample means")
    _fails(check_gad_loss, lambda *a: torch.zeros(2), says="one scalar")
    # the stub inputs really have padded contexts of different lengths (else the mean bug would pass)
    lengths = (gad_loss_inputs()[4] != -100).sum(1)
    assert len(set(lengths.tolist())) > 2


def test_lora_removal_checker_rejects_wrong_values_without_leaking_them():
    want = _lora_measurement()
    assert want["fresh_adapter"] == 0 and want["adapter_removed"] == 0 and want["finetuned_adapter"] > 0.1
    msg = _fails(check_lora_removal, lambda: {**want, "finetuned_adapter": 0.0}, says="'finetuned_adapter'")
    assert f"{want['finetuned_adapter']:.3g}" not in msg
    _fails(check_lora_removal, lambda: {k: v for k, v in want.items() if k != "adapter_removed"},
           says="missing ['adapter_removed']")
    check_lora_removal(lambda: want)


def test_lm_positions_grades_the_measurement_and_only_reports_the_prediction(capsys):
    want = _positions_measurement()
    # hand-checkable structure: inference = discriminative; parallel runs the prefix twice
    assert want["disc_first predict"] == want["discriminative"]
    assert want["discriminative"] < want["gen_first"] < want["disc_first"] < want["parallel"]
    msg = _fails(check_lm_positions, lambda: want, lambda: {**want, "parallel": want["disc_first"]},
                 says="'parallel'")
    assert str(want["parallel"]) not in msg
    wrong_guess = {**want, "gen_first": want["disc_first"]}
    check_lm_positions(lambda: wrong_guess, lambda: want)
    out = capsys.readouterr().out
    assert "passed" in out and "4/5" in out and "off for ['gen_first']" in out


def test_notebook_04_is_a_course_notebook_with_four_checked_exercises():
    from gadlib.tools import course
    assert "04_gad_finetuning" in course.course_notebooks()
    nb = course.solution_notebook("04_gad_finetuning")
    checks = [c for c in nb.cells[course.exercise_start(nb):] if course.is_check(c)]
    assert [c.source.split("(")[0] for c in checks] == \
        ["check_previous_actions", "check_gad_loss", "check_lora_removal", "check_lm_positions"]
