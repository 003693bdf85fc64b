"""The install cell every notebook opens with (Colab only; elsewhere it does nothing).

gadlib is not installed yet when it runs, so the cell holds its own logic: plain Python, no `!`
lines, so a failed clone or pip install stops the cell with one error that names the address, the
branch and what git / pip said (tests/test_colab.py runs it against a local clone). The address
and branch come from `gadlib.tools.course` (REPO_URL, REPO_BRANCH), which writes this cell into
every notebook at `python -m gadlib.course build`.
"""
from __future__ import annotations

import re

COLAB_MARK = "# Colab only:"
TEMPLATE = '''{mark} install gadlib and its dependencies from the course's repository, keeping Colab's own torch.
REPO_URL, REPO_BRANCH = {url!r}, {branch!r}   # set in gadlib/tools/course.py


def install_gadlab(url, branch, dest={dest!r}, pip_options={pip!r}):
    """Clone `branch` of `url` into `dest`, pip-install it with its requirements (less torch and the
    developer tools), and import it; one clear error if any step fails."""
    import os, re, subprocess, sys

    def step(what, cmd):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            said = (done.stderr.strip() or done.stdout.strip())[-3000:]
            raise RuntimeError(f"GAD Lab install failed while {{what}} (repository {{url}}, branch {{branch}}).\\n"
                               f"$ {{' '.join(cmd)}}\\n{{said}}\\nCheck REPO_URL / REPO_BRANCH in this cell "
                               "(they come from gadlib/tools/course.py) and the session's network.") from None
        return done.stdout.strip()

    if not os.path.isdir(os.path.join(dest, ".git")):
        step("cloning", ["git", "clone", "-q", "--depth", "1", "--branch", branch, url, dest])
    skip = re.compile(r"^({skip})[=<>~ ]")
    with open(os.path.join(dest, "requirements.txt")) as f:
        needed = [line for line in f if line.strip() and not skip.match(line)]
    with open(dest.rstrip("/") + "-requirements.txt", "w") as f:
        f.writelines(needed)
    step("installing with pip", [sys.executable, "-m", "pip", "install", "-q", *pip_options,
                                 "-r", dest.rstrip("/") + "-requirements.txt", "-e", dest])
    sys.path.insert(0, dest)  # the editable install is picked up by this kernel only after a restart
    import gadlib
    commit = step("reading the commit", ["git", "-C", dest, "log", "-1", "--format=%h %cs %s"])
    print(f"gadlib {{gadlib.__version__}} from {{os.path.dirname(gadlib.__file__)}}: {{url}} branch {{branch}}, commit {{commit}}")


import sys
if "google.colab" in sys.modules:
    install_gadlab(REPO_URL, REPO_BRANCH)'''


def install_cell(url: str, branch: str, skip: tuple[str, ...], dest: str = "/content/gad-lab",
                 pip_options: tuple[str, ...] = ()) -> str:
    """The cell's source: clone `branch` of `url` into `dest`, pip-install its requirements.txt less
    the packages in `skip` (with `pip_options`), import gadlib and say what was installed."""
    return TEMPLATE.format(mark=COLAB_MARK, url=url, branch=branch, dest=dest, pip=tuple(pip_options),
                           skip="|".join(re.escape(n) for n in skip))
