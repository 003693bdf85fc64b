"""Course editions: the exercises' solutions pass their checkers, the student editions fail them
cleanly, the student editions and jupytext pairs are in sync, link lines are the generated ones,
and the checkers reject wrong answers with a useful message. Runs only the exercise sections
(seconds), never the notebooks' training cells."""
from __future__ import annotations

import contextlib
import io

import nbformat
import numpy as np
import pytest
import torch

from gadlib.tools import course
from gadlib.lessons.exercises.common import ExerciseFailed
from gadlib.lessons.exercises.ex01 import check_cls_readout, check_overlap_knob, check_snap
from gadlib.lessons.exercises.ex02 import check_desync_mapping, check_rand_mapping, check_snap_recovery
from gadlib.lessons.exercises.ex05 import check_flicker, check_late_predictions, check_segment_f1, check_segments
from gadlib.evaluation.results import repo_root

ROOT = repo_root()
COURSE = course.course_notebooks()


def run_exercises(nb, name):
    """Execute the exercise section's code cells in one namespace, as a kernel would from the
    Exercises heading on; returns (source, exception or None, stdout) per cell."""
    namespace, results = {"__name__": "__exercises__"}, []
    for src in course.exercise_code(nb, name):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(src, name, "exec"), namespace)
            results.append((src, None, out.getvalue()))
        except Exception as e:  # noqa: BLE001 - recorded and asserted on by the caller
            results.append((src, e, out.getvalue()))
    return results


def test_every_notebook_but_the_readings_has_exercises():
    assert set(COURSE) == set(course.notebooks()) - set(course.READINGS) and len(COURSE) == 5
    assert set(course.READINGS) <= set(course.notebooks())   # a reading that is gone is not listed


@pytest.mark.parametrize("stem", COURSE)
def test_solution_edition_passes_every_checker(stem):
    results = run_exercises(course.solution_notebook(stem), stem)
    checks = [r for r in results if course.is_check(nbformat.v4.new_code_cell(r[0]))]
    assert len(checks) >= 3, f"{stem}: only {len(checks)} checked exercises"
    for src, error, out in results:
        assert error is None, f"{stem}: cell\n{src}\nraised {error!r}"
    for src, _, out in checks:
        assert "✓" in out and "passed" in out, f"{stem}: checker cell\n{src}\nprinted no pass: {out!r}"


@pytest.mark.parametrize("stem", COURSE)
def test_student_edition_runs_and_every_checker_fails_cleanly(stem):
    path = course.student_path(stem)
    text = path.read_text()
    assert course.BEGIN not in text and course.END not in text
    nb = nbformat.read(path, as_version=4)
    solution = course.solution_notebook(stem)
    # every solution block is gone: none of its lines is left in the student edition's cell
    for sol, stu in zip(solution.cells, nb.cells):
        if course.has_solution(sol):
            body = course.strip_solutions(sol.source, sol.cell_type)
            assert stu.source == body and body != sol.source
            assert "nbgrader" in stu.metadata and stu.metadata["nbgrader"]["solution"]
    results = run_exercises(nb, stem)
    checks = 0
    for src, error, _ in results:
        if course.is_check(nbformat.v4.new_code_cell(src)):
            checks += 1
            assert isinstance(error, ExerciseFailed), f"{stem}: checker cell\n{src}\nraised {error!r}, not ExerciseFailed"
            assert "not implemented yet" in str(error)
        else:
            assert error is None, f"{stem}: a non-checker cell of the student edition failed:\n{src}\n{error!r}"
    assert checks >= 3


def test_student_editions_are_in_sync_with_the_solutions():
    assert course.write_student_editions(check=True) == [], "run `python -m gadlib.course student`"


def test_student_edition_ignores_widget_state_counts_and_the_kernel_version():
    stem = COURSE[0]
    nb = course.solution_notebook(stem)
    clean = nbformat.writes(course.edition(nb, student=True))
    for c in nb.cells:
        if c.cell_type == "code":
            c.execution_count = 3
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7", "pygments_lexer": "ipython3"}
    assert nbformat.writes(course.edition(nb, student=True)) == clean


def test_student_edition_keeps_the_lessons_outputs_but_no_exercise_output():
    nb = nbformat.v4.new_notebook()
    lesson = nbformat.v4.new_code_cell("print(1)")
    lesson.outputs = [nbformat.v4.new_output("stream", name="stdout", text="measured 0.42\n"),
                      nbformat.v4.new_output("display_data", data={course.WIDGET_VIEW: {"model_id": "x"}}),
                      nbformat.v4.new_output("execute_result", data={"text/plain": "7"}, execution_count=5)]
    answer = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="solution's result\n")]
    nb.cells = [lesson, nbformat.v4.new_markdown_cell(course.EXERCISES_HEADING), answer]
    student = course.edition(nb, student=True)
    assert [o.get("text", o.get("data")) for o in student.cells[0].outputs] == ["measured 0.42\n", {"text/plain": "7"}]
    assert student.cells[0].outputs[1]["execution_count"] is None
    assert student.cells[2].outputs == []
    assert all(c.get("outputs", []) == [] for c in course.edition(nb, student=False).cells)


@pytest.mark.parametrize("stem", COURSE)
def test_student_edition_can_answer_the_written_questions(stem):
    """Every lesson cell that showed something in the solution's run shows it in the student
    edition: the written questions ask about those numbers (issue 21)."""
    solution, student = course.solution_notebook(stem), nbformat.read(course.student_path(stem), as_version=4)
    start = course.exercise_start(solution)
    shown = [i for i, c in enumerate(solution.cells[:start]) if c.cell_type == "code" and c.outputs]
    assert shown, f"{stem}: the committed solution notebook carries no outputs (run the main job)"
    assert [i for i in shown if not student.cells[i].outputs] == []
    assert [i for i, c in enumerate(student.cells[start:], start) if c.cell_type == "code" and c.outputs] == []


@pytest.mark.parametrize("stem", course.notebooks())
def test_jupytext_pair_in_sync_with_generated_links(stem):
    assert course.pair_problems(stem) == []


# ---- the tooling itself -----------------------------------------------------------------------

def test_nav_lines_and_badge_from_the_order():
    stems = ["01_first", "02_second_one", "05_last"]
    assert course.nav_line(stems, "01_first") == "next: [02 · second one ➡](02_second_one.ipynb)"
    assert course.nav_line(stems, "02_second_one") == \
        "[⬅ 01 · first](01_first.ipynb) · next: [05 · last ➡](05_last.ipynb)"
    assert course.nav_line(stems, "05_last") == "[⬅ 02 · second one](02_second_one.ipynb)"
    assert course.badge("05_last").endswith("/blob/main/notebooks/05_last.ipynb)")


def test_with_links_replaces_a_stale_link_line_and_footer():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 02 · Title\n\n[![Open In Colab](x)](y)\n· next: [old ➡](old.ipynb)\n\nText."),
                nbformat.v4.new_code_cell("# Colab only: stale\npass"),
                nbformat.v4.new_markdown_cell("---\n[⬅ old](old.ipynb)")]
    out = course.with_links(nb, ["01_a", "02_b"], "02_b")
    assert out.cells[0].source == f"# 02 · Title\n\n{course.badge('02_b')}\n· [⬅ 01 · a](01_a.ipynb)\n\nText."
    assert out.cells[1].source == course.COLAB_CELL
    assert out.cells[2].source == "---\n[⬅ 01 · a](01_a.ipynb)"
    assert nb.cells[0].source.endswith("Text.")  # the input is not modified


def test_student_links_point_to_student_editions_where_they_exist():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# 02\n\n{course.badge('02_b')}\n· {course.nav_line(['01_a', '02_b', '03_c'], '02_b')}")]
    src = course.student_links(nb, "02_b", ["02_b", "03_c"]).cells[0].source
    assert "/blob/main/notebooks/student/02_b.ipynb)" in src
    assert "[⬅ 01 · a](../01_a.ipynb)" in src and "[03 · c ➡](03_c.ipynb)" in src


def test_strip_solutions_keeps_indentation_and_the_rest():
    src = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nf(2)"
    assert course.strip_solutions(src) == \
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nf(2)"
    assert course.strip_solutions("Q?\n### BEGIN SOLUTION\nA.\n### END SOLUTION", "markdown") == "Q?\nYOUR ANSWER HERE"
    for bad in ("### BEGIN SOLUTION\nx", "x\n### END SOLUTION", "### BEGIN SOLUTION\n### BEGIN SOLUTION"):
        with pytest.raises(course.CourseError):
            course.strip_solutions(bad)


def _pair(root, stem, cells):
    import jupytext

    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["jupytext"] = {"formats": course.PAIRING}
    (root / "notebooks").mkdir(exist_ok=True)
    nbformat.write(nb, root / "notebooks" / f"{stem}.ipynb")
    jupytext.write(nb, root / "notebooks" / f"{stem}.py", fmt="py:percent")


def test_pair_problems_detect_edits_and_build_repairs_them(tmp_path):
    md = nbformat.v4.new_markdown_cell
    for stem in ("01_a", "02_b"):
        _pair(tmp_path, stem, [md(f"# {stem}\n\n{course.badge(stem)}\n· {course.nav_line(['01_a', '02_b'], stem)}"),
                               nbformat.v4.new_code_cell("x = 1"), md(f"---\n{course.nav_line(['01_a', '02_b'], stem)}")])
    assert course.pair_problems("01_a", tmp_path) == []
    py = tmp_path / "notebooks" / "01_a.py"
    py.write_text(py.read_text().replace("x = 1", "x = 2"))
    assert any("differ from cell 1" in p for p in course.pair_problems("01_a", tmp_path))
    _pair(tmp_path, "03_c", [md("# 03_c"), nbformat.v4.new_code_cell("y = 1")])  # a new notebook: links change
    assert any("link line" in p for p in course.pair_problems("02_b", tmp_path))
    course.build(tmp_path)
    for stem in ("01_a", "02_b", "03_c"):
        assert course.pair_problems(stem, tmp_path) == []
    nb = nbformat.read(tmp_path / "notebooks" / "01_a.ipynb", as_version=4)
    assert nb.cells[1].source == "x = 2"
    assert "next: [02 · b ➡](02_b.ipynb)" in nb.cells[0].source


# ---- checkers reject wrong answers, say why, and do not leak measured answers -------------------

def _fails(check, *answers, says: str):
    with pytest.raises(ExerciseFailed) as e:
        check(*answers)
    assert says in str(e.value), str(e.value)
    return str(e.value)


def _nearest_by_ratio(text, names):  # a plausible mistake: similarity ratio instead of distance
    from rapidfuzz import fuzz
    return int(np.argmax([fuzz.ratio(text, n) for n in names]))


def test_check_snap_rejects_wrong_tie_breaking_and_metric():
    from rapidfuzz.distance import Levenshtein
    last_tie = lambda t, names: int(len(names) - 1 - np.argmin([Levenshtein.distance(t, n) for n in names][::-1]))
    msg = _fails(check_snap, last_tie, says="is nearer or, at equal distance, earlier")
    assert "['b', 'a', 'a']" in msg  # the smallest failing case is shown
    _fails(check_snap, _nearest_by_ratio, says="returned")
    _fails(check_snap, lambda t, n: "0", says="return a class index")


def test_check_cls_readout_rejects_ignoring_padding_and_wrong_shapes():
    msg = _fails(check_cls_readout, lambda h, m: h[:, -1], says="not of its last real position")
    assert "lengths [2, 5, 4]" in msg and "position 4" in msg
    _fails(check_cls_readout, lambda h, m: h[torch.arange(len(h)), m.sum(1) - 1][None], says="should have shape")


def own_segments(labels):
    """A student's answer (no gadlib): runs of one label, background dropped."""
    out, start = [], 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            if labels[start] != 0:
                out.append((int(labels[start]), start, t))
            start = t
    return out


def own_segment_f1(pred, truth, iou, strict=False):
    """A student's answer (no gadlib): each predicted segment, in order, takes the true segment
    of its class with the highest IoU (ties: the earliest); a TP when that IoU reaches `iou` (or
    exceeds it, `strict`: an off-by-epsilon) and it was not taken before."""
    P, T = own_segments(pred), own_segments(truth)
    taken, tp = set(), 0
    for label, s, e in P:
        scores = [(min(e, te) - max(s, ts)) / (max(e, te) - min(s, ts)) if tl == label else -1.0
                  for tl, ts, te in T]
        j = int(np.argmax(scores)) if scores else None
        if j is not None and (scores[j] > iou if strict else scores[j] >= iou) and j not in taken:
            taken.add(j)
            tp += 1
    return 2 * tp / (len(P) + len(T)) if tp else 0.0


def test_check_segments_and_segment_f1_show_the_smallest_failing_case():
    check_segments(own_segments)
    check_segment_f1(own_segment_f1)
    keep_background = lambda labels: [(int(labels[s]), s, s + 1) for s in range(len(labels))]
    _fails(check_segments, keep_background, says="my_segments([0]) returned")
    _fails(check_segments, lambda labels: own_segments(labels)[::-1], says="my_segments([1, 2]) returned")
    strict = lambda p, t, iou: own_segment_f1(p, t, iou, strict=True)  # '>' instead of '>=' at the threshold
    _fails(check_segment_f1, strict, says="iou=0.5) returned")
    _fails(check_segment_f1, lambda p, t, iou: float(np.mean(p == t)), says="expected")


def test_mapping_checkers_reject_each_others_mapping():
    def consistent(text, pool, seed):
        rng = np.random.default_rng(seed)
        used = sorted({t for s in text for t in s})
        ren = dict(zip(used, rng.choice(pool, size=len(used), replace=False).tolist()))
        return [[ren[t] for t in s] for s in text]

    def independent(text, pool, seed):
        draws = iter(np.random.default_rng(seed).choice(pool, size=sum(map(len, text)), replace=False).tolist())
        return [[next(draws) for _ in s] for s in text]

    check_rand_mapping(consistent)
    check_desync_mapping(independent)
    _fails(check_rand_mapping, independent, says="became")
    _fails(check_desync_mapping, consistent, says="is used by class")
    _fails(check_rand_mapping, lambda t, p, s: [list(x) for x in t], says="kept their own id")
    _fails(check_desync_mapping, lambda t, p, s: [[-1] * len(x) for x in t], says="not in `pool`")
    _fails(check_desync_mapping, lambda t, p, s: [x[:1] for x in t], says="a mapping changes which tokens")


def test_measure_checkers_fail_without_revealing_the_value():
    from gadlib.data.vocabulary import label_overlap_stats
    from gadlib.lessons.exercises.ex01 import OVERLAP_KNOB, coin_like_names
    from gadlib.lessons.exercises.references import reference
    _snap_recovery = reference("snap_recovery")
    true = {o: label_overlap_stats(coin_like_names(40, o))["classes_per_first_word"] for o in OVERLAP_KNOB}
    off = {o: v + 0.5 for o, v in true.items()}
    msg = _fails(check_overlap_knob, lambda: off, says="does not match a recomputation")
    assert not any(f"{v:g}" in msg for v in true.values() if v != int(v))  # the non-integer averages
    _fails(check_overlap_knob, lambda: {0.0: 1.0}, says="missing")
    shares = {m: _snap_recovery(m) for m in ("text", "rand")}  # computed outside the answer
    _fails(check_snap_recovery, lambda: shares, says="missing ['desync']")
    _fails(check_flicker, lambda: {r: {"frame_accuracy": 1.0, "seg_f1_0.5": 1.0} for r in (0.0, 0.02, 0.1)},
           says="rate 0.02")
    _fails(check_late_predictions, lambda: 0, lambda: 0, says="return a dict")
    _fails(check_snap, 42, says="pass the function itself")


def test_colab_cell_installs_what_the_notebooks_need_and_keeps_colabs_torch():
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    pattern = re.search(r're.compile\(r"([^"]+)"\)', course.COLAB_CELL).group(1)
    lines = [line for line in (root / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    dropped = {re.split(r"[=<>~ ]", line)[0] for line in lines if re.search(pattern, line)}
    assert dropped == set(course.NOT_ON_COLAB)  # each one named is in requirements.txt, and only those go
    kept = {re.split(r"[=<>~ ]", line)[0] for line in lines} - dropped
    assert {"transformers", "peft", "accelerate", "ipywidgets", "seaborn"} <= kept
    assert f"{course.REPO_URL!r}, {course.REPO_BRANCH!r}" in course.COLAB_CELL
    assert course.REPO_URL == f"https://github.com/{course.REPO}" and course.BRANCH == course.REPO_BRANCH   # the badges' address
    for stem in course.notebooks(root):  # every notebook opens with exactly this cell
        nb = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
        assert nb.cells[1].source == course.COLAB_CELL, stem


def test_nbgrader_source_is_written_or_refused(tmp_path, monkeypatch):
    """One source notebook per course notebook, solutions marked; from outside the repository the
    command fails with a message instead of writing nothing."""
    written = course.write_nbgrader_source(tmp_path / "course")
    assert [p.parent.name for p in written] == course.course_notebooks()
    nb = nbformat.read(written[0], as_version=4)
    assert any(c.metadata.get("nbgrader", {}).get("solution") for c in nb.cells)
    monkeypatch.chdir(tmp_path)
    assert course.main(["nbgrader", str(tmp_path / "elsewhere")]) == 1
    assert not (tmp_path / "elsewhere").exists()


def test_nbgrader_config_fits_the_training_cells_and_sets_the_kernels_environment(tmp_path, monkeypatch):
    """nbgrader's 30 s default would stop the training cells: the generated config allows
    CELL_TIMEOUT_MARGIN x the longest notebook's run, runs the CPU sizes on any device, keeps the
    graded run's results in the course folder, and does not overwrite an instructor's own config."""
    import json
    from traitlets.config import Config
    from gadlib.tools import grading
    longest = max(json.loads(p.read_text())["seconds"] for p in (ROOT / "results").glob("0[0-9]_*.json"))
    timeout = grading.cell_timeout()
    assert timeout >= grading.CELL_TIMEOUT_MARGIN * longest and timeout % 60 == 0 and timeout > 30
    path = grading.write_nbgrader_config(tmp_path / "course")
    c = Config()
    for key in ("GADLAB_PROFILE", "GADLAB_STATIC_WIDGETS", "MPLBACKEND", "GADLAB_RESULTS_DIR"):
        monkeypatch.setenv(key, "before")   # the config sets them in os.environ: monkeypatch restores them
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: c, "__file__": str(path)})
    assert c.ExecutePreprocessor.timeout == c.Execute.timeout == timeout
    assert c.CourseDirectory.root == str(tmp_path / "course")
    import os
    assert os.environ["GADLAB_PROFILE"] == "cpu" and os.environ["GADLAB_STATIC_WIDGETS"] == "1"
    assert os.environ["GADLAB_RESULTS_DIR"] == str(tmp_path / "course" / grading.NBGRADER_RESULTS)
    assert grading.write_nbgrader_config(tmp_path / "course") == path          # its own file: rewritten
    path.write_text("c = get_config()\n")                                     # the instructor's own
    assert grading.write_nbgrader_config(tmp_path / "course").name == "nbgrader_config.gadlab.py"
    assert path.read_text() == "c = get_config()\n"
    assert grading.cell_timeout(tmp_path) == grading.FALLBACK_TIMEOUT_S          # no results: the fallback


def test_checker_references_are_encoded_from_their_source():
    assert course.write_reference_blob(check=True) == []
