"""The Colab install cell and the release tree it clones, run here with no network.

The cell's code runs with a fake `google.colab` module, against a release tree
(`python -m gadlib.course release`) committed to a local git repository and cloned through a
`file://` URL; pip installs with `--no-index --no-deps --no-build-isolation` into a throw-away
venv that sees this Python's packages (they are already here; this Python's environment, and the
developer's editable install of gad-lab in it, are left as they are).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from gadlib.tools import course

ROOT = Path(__file__).resolve().parents[1]
BRANCH = "students"


def _git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A release tree, committed on branch `students` of a local repository."""
    tree = tmp_path_factory.mktemp("release") / "gad-lab"
    course.write_release(tree)
    _git("init", "-q", "-b", BRANCH, cwd=tree)
    _git("add", "-A", cwd=tree)
    _git("commit", "-q", "-m", "student release", cwd=tree)
    return tree


def test_release_holds_the_student_editions_and_no_solution(release):
    names = sorted(p.name for p in (release / "notebooks").iterdir())
    assert names == [f"{s}.ipynb" for s in course.course_notebooks()]       # no .py sources, no student/ folder
    for path in (release / "notebooks").iterdir():
        text = path.read_text()
        assert course.BEGIN not in text and course.END not in text, path.name
        assert "raise NotImplementedError()" in text and "YOUR ANSWER HERE" in text
        nb = nbformat.read(path, as_version=4)
        assert nb.cells[1].source == course.COLAB_CELL                   # the install cell, as generated
    for name in ("gadlib/lessons/exercises", "requirements.txt", "pyproject.toml", "README.md", "configs"):
        assert (release / name).exists(), name
    assert not (release / "tests").exists() and not (release / "docs" / "instructors.md").exists()
    with pytest.raises(course.CourseError, match="not empty"):
        course.write_release(release)


def test_checkers_work_in_the_release(release):
    """A solution edition's exercise section, run against the release's own gadlib: every check passes."""
    stem = "05_online_action_detection"
    cells = course.exercise_code(course.solution_notebook(stem), stem)
    script = ("import json, sys\nns = {'__name__': '__exercises__'}\n"
              f"for src in json.loads({json.dumps(json.dumps(cells))}):\n    exec(compile(src, 'ex', 'exec'), ns)\n"
              "import gadlib; print('GADLIB', gadlib.__file__)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(release), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", script], cwd=release, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"GADLIB {release / 'gadlib' / '__init__.py'}" in done.stdout
    checks = sum(bool(re.search(r"^check_\w+\(", c, re.M)) for c in cells)
    assert checks and done.stdout.count("✓") == checks, done.stdout[-2000:]


def test_install_cell_clones_installs_and_says_what(release, tmp_path):
    dest = tmp_path / "content" / "gad-lab"
    # A throw-away venv (no pip of its own: this Python's pip and setuptools run in it) that sees this
    # Python's packages: pip installs gad-lab there and leaves the
    # developer's own (editable) install alone ("not uninstalling ... outside environment"); with
    # --prefix instead, pip uninstalled it from this environment.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True, capture_output=True)
    cell = course.colab_cell(url=release.as_uri(), branch=BRANCH, dest=str(dest),
                             pip_options=("--no-index", "--no-deps", "--no-build-isolation"))
    script = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n" + cell
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(venv / "bin" / "python"), "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    commit = subprocess.run(["git", "log", "-1", "--format=%h"], cwd=release, capture_output=True, text=True).stdout.strip()
    said = done.stdout.strip().splitlines()[-1]
    assert said.startswith(f"gadlib {course_version()} from {dest / 'gadlib'}: {release.as_uri()} branch {BRANCH}, commit {commit}")
    assert (dest / "notebooks" / "01_generative_vs_discriminative.ipynb").is_file()


def course_version() -> str:
    import gadlib
    return gadlib.__version__


@pytest.mark.parametrize("where", ["url", "branch"])
def test_install_cell_stops_with_one_clear_error(where, release, tmp_path, monkeypatch, capsys):
    url = (tmp_path / "no-such-repo").as_uri() if where == "url" else release.as_uri()
    branch = "no-such-branch" if where == "branch" else BRANCH
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    cell = course.colab_cell(url=url, branch=branch, dest=str(tmp_path / "gad-lab"))
    with pytest.raises(RuntimeError) as err:
        exec(compile(cell, "install cell", "exec"), {"__name__": "__main__"})
    text = str(err.value)
    assert text.startswith(f"GAD Lab install failed while cloning (repository {url}, branch {branch})")
    assert f"$ git clone -q --depth 1 --branch {branch} {url}" in text and "fatal:" in text   # the command, git's own words
    assert "REPO_URL / REPO_BRANCH" in text
    assert not (tmp_path / "gad-lab" / "gadlib").exists()


def test_every_notebook_opens_with_the_generated_install_cell():
    assert f"REPO_URL, REPO_BRANCH = {course.REPO_URL!r}, {course.REPO_BRANCH!r}" in course.COLAB_CELL
    assert "!" not in "".join(line.lstrip()[:1] for line in course.COLAB_CELL.splitlines())   # no shell escapes
    for stem in course.notebooks(ROOT):
        nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        assert nb.cells[1].source == course.COLAB_CELL, stem
