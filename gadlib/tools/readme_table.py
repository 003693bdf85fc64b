"""The README's numbers, generated from results/*.json, never typed in.

    python -m gadlib.readme_table            # print the table of every method
    python -m gadlib.readme_table --write    # rewrite the generated blocks (README, GENERATED_DOCS)
    python -m gadlib.readme_table --check    # exit 1 (and show the diff) if they are stale

A generated block sits between `<!-- BEGIN generated:NAME -->` and `<!-- END generated:NAME -->`
lines; `BLOCKS` lists the names. The test suite checks that the committed README equals what
this module makes from the committed results, so a hand-edited number fails CI.

Not a notebook topic: it keeps the README and docs/results.md honest.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

from gadlib.evaluation.results import (TOKENIZATION_CLAIMS, claim_line, fmt_mean_std, grid_gap_line, paired_difference,
                      read_results_file, repo_root, results_dir)

BEGIN, END = "<!-- BEGIN generated:{} -->", "<!-- END generated:{} -->"
_BLOCK = re.compile(r"<!-- BEGIN generated:([\w-]+) -->\n(.*?)<!-- END generated:([\w-]+) -->", re.S)
NB01, NB02, NB05 = "01_generative_vs_discriminative", "02_tokenization_ablations", "05_online_action_detection"
NB03 = "03_misclassification_diversity"
NB04 = "04_gad_finetuning"


def load_all(folder: Path) -> dict[str, dict]:
    """{notebook name: results} for every results/NN_*.json in `folder`."""
    return {path.stem: read_results_file(path) for path in sorted(Path(folder).glob("[0-9][0-9]_*.json"))}


def run_minutes(res: dict) -> float:
    """A notebook's measured run time in minutes: the main job's wall time (kernel start to last
    cell) when it recorded one, else the notebook's own timer (setup cell to results cell)."""
    seconds = res.get("run", {}).get("wall_seconds", res.get("seconds"))
    if seconds is None:
        raise KeyError(f"results of {res.get('notebook', '?')} hold no run time ('run.wall_seconds' or 'seconds')")
    return seconds / 60


def methods_table(results: dict[str, dict]) -> str:
    """A markdown table: notebook, method, each headline metric as mean ± std (in %), run time.
    Headline: top-1 of the offline tasks, segment F1 at IoU 0.1 of each OAD data set."""
    rows = ["| notebook | method | metric (%, mean ± std over seeds) | profile | run time |",
            "|---|---|---|---|---|"]
    for name, res in results.items():
        for method, metrics in res.get("metrics", {}).items():
            cells = ", ".join(f"{k.removesuffix('_top1')} {fmt_mean_std(v)}"
                              for k, v in metrics.items() if k.endswith("_top1") and not k.endswith("balanced_top1"))
            cells = cells or ", ".join(f"{k.removesuffix('_seg_f1_0.1')} S-F1@0.1 {fmt_mean_std(v)}"
                                       for k, v in metrics.items() if k.endswith("_seg_f1_0.1"))
            rows.append(f"| {name} | {method} | {cells} | {res.get('profile', '?')} | {run_minutes(res):.1f} min |")
    return "\n".join(rows)


def results_table(folder: Path | None = None) -> str:
    """`methods_table` of the results files in `folder` (default: `results_dir()`)."""
    return methods_table(load_all(folder or results_dir()))


def quickstart_time(results: dict[str, dict]) -> str:
    """The quickstart's sentence on how long the main job takes."""
    parts = [f"{name[:2]}: {run_minutes(res):.1f} min" for name, res in results.items()]
    total = sum(run_minutes(res) for res in results.values())
    machines = {res["run"]["machine"] for res in results.values() if "run" in res}
    where = (f"the main job's wall time on {'; '.join(sorted(machines))}" if machines else
             "each notebook's own timer; the main job adds its wall time and machine on its next run")
    return (f"Time of the last full run, from `results/*.json`: **{total:.1f} minutes** for all notebooks "
            f"({', '.join(parts)}; {where}).")


def notebook_table(old: str, results: dict[str, dict]) -> str:
    """The notebook table as written, with its last column (run time) filled in from results."""
    lines = []
    for line in old.splitlines():
        m = re.search(r"\((?:\.\./)?notebooks/(\d\d_\w+)\.ipynb\)", line)
        if m and line.startswith("|"):
            res = results.get(m.group(1))
            cells = line.rstrip().rstrip("|").split("|")
            cells[-1] = f" {run_minutes(res):.1f} min " if res else " not run yet "
            line = "|".join(cells) + "|"
        lines.append(line)
    return "\n".join(lines)


def results_01(res: dict) -> str:
    """Notebook 01's table (top-1 per task, latency) and its paired differences."""
    m, timing = res["metrics"], res.get("timing", {})
    rows = [f"**01 · COIN-like**, data: {res['dataset']}, backbone: {res['backbone']}; top-1 %, mean ± std over seeds {res['seeds']}:",
            "", "| method | step recognition | step forecasting | task recognition | ms / sample (batch 1) |",
            "|---|---|---|---|---|"]
    titles = {"generative": "generative (greedy + snapping)", "generative_exact": "generative, exact class scoring",
              "discriminative": "discriminative", "gad": "GAD"}
    for method, title in titles.items():
        if method in m:
            ms = timing.get(method, {}).get("ms_per_sample_b1")
            cells = [fmt_mean_std(m[method][f"{k}_top1"]) for k in ("step", "next", "task")]
            cells.append(f"{ms:.1f}" if ms is not None else "–")
            rows.append(f"| {title} | " + " | ".join(cells) + " |")
    rows.append("")
    if res.get("differences"):
        rows += difference_lines(res["differences"])
        race = res.get("convergence", {}).get("steps_to_target")
        if race:
            rows.append(learning_speed_line(race))
        return "\n".join(rows)
    for a, b in (("discriminative", "generative"), ("gad", "discriminative"), ("generative_exact", "generative")):
        diffs = [(k, paired_difference(m[a][f"{k}_top1"], m[b][f"{k}_top1"])) for k in ("step", "next", "task")]
        rows.append(f"- {a} − {b}, points: " + ", ".join(f"{k} {d} ({a} ahead in {d.wins}/{d.n} seeds)" for k, d in diffs))
    return "\n".join(rows)


def learning_speed_line(race: list[dict], where: str = "") -> str:
    """"Learns faster" from `gadlib.evaluation.experiment.learning_speed` rows, as one README line."""
    first = sum(r["discriminative"] < r["generative"] for r in race)
    return (f"- learns faster{' (' + where + ')' if where else ''}: optimizer steps to a validation score both reach "
            "(discriminative / generative): " + ", ".join(f"{r['discriminative']} / {r['generative']}" for r in race)
            + f"; discriminative first in {first} of {len(race)} seeds.")


def results_02(res: dict) -> str:
    """Notebook 02's step-recognition top-1 per mapping, the paper's claims checked, the grid."""
    m = res["metrics"]
    shown = ", ".join(f"{k.removeprefix('gen_')} {fmt_mean_std(v['step_top1'])}" for k, v in m.items())
    rows = [f"**02 · EPIC-like**, data: {res['dataset']}, backbone: {res['backbone']}; step recognition top-1 %, "
            f"mean ± std over seeds {res['seeds']}: {shown}.", ""]
    if res.get("differences"):
        rows += difference_lines(res["differences"])
    else:
        rows += [claim_line(m, a, b, rel) for a, b, rel in TOKENIZATION_CLAIMS]
    if res.get("overlap_sweep"):
        rows.append(grid_gap_line(res["overlap_sweep"]))   # it says how many seeds a cell has
    return "\n".join(rows)


def difference_lines(differences: dict, unit: str = "points", digits: int = 1) -> list[str]:
    """One line per paired difference of a results file's "differences" (`gadlib.evaluation.intervals`):
    mean A − B in `unit`, its hierarchical-bootstrap 95 % interval, the verdict and, for a comparison
    judged against the paper (`gadlib.evaluation.intervals.judge`), what it means."""
    def why(d):
        if "meaning" in d:
            return f": {d['meaning']}"
        return f" ({d['not_testable']})" if d.get("not_testable") else ""

    return [f"- {key}{' (' + d['metric'] + ')' if 'metric' in d else ''}: {d['mean']:+.{digits}f} {unit}, 95 % interval "
            f"[{d['ci95'][0]:+.{digits}f}, {d['ci95'][1]:+.{digits}f}]: **{d['verdict']}**{why(d)}"
            for key, d in differences.items()]


def results_05(res: dict) -> str:
    """Notebook 05's OAD table (segment / point F1, mAP, FPS per data set), the paired differences
    and the tokenization study with the paper's metrics."""
    m, presets = res["metrics"], res["presets"]
    # Keys before / after FPS got one meaning: batched dense evaluation, and a live detector timed
    # over a notebook's first frames at batch 1 (neither is the paper's every-frame streaming FPS).
    rate = lambda s, p, new, old: s.get(f"{p}_{new}", s.get(f"{p}_{old}"))
    live = all(rate(m[k], p, "live_frames_per_s", "fps_streaming") for p in presets
               for k in ("generative", "discriminative", "gad"))
    rows = [f"**05 · online action detection**, data: {res['dataset']}, backbone: {res['backbone']}; %, "
            f"mean ± std over seeds {res['seeds']} (frames per second on this CPU: batched dense evaluation"
            + ("; live: one frame at a time at batch 1 over the first frames, not the paper's streaming FPS protocol"
               if live else "") + "):", "",
            "| data | method | S-F1@0.1 | S-F1@0.5 | P-F1@1s | mAP | batched frames/s |" + (" live frames/s |" if live else ""),
            "|---|---|---|---|---|---|---|" + ("---|" if live else "")]
    for p in presets:
        for method in ("generative", "discriminative", "gad"):
            s = m[method]
            rows.append(f"| {p} | {method} | " + " | ".join(fmt_mean_std(s[f"{p}_{k}"]) for k in
                        ("seg_f1_0.1", "seg_f1_0.5", "point_f1_1s", "map"))
                        + f" | {rate(s, p, 'batched_frames_per_s', 'fps')['mean']:.0f} |"
                        + (f" {rate(s, p, 'live_frames_per_s', 'fps_streaming')['mean']:.0f} |" if live else ""))
    streamed = {p: {k: m[k][f"{p}_streaming_fps"]["mean"] for k in ("generative", "discriminative", "gad")}
                for p in presets if all(f"{p}_streaming_fps" in m[k] for k in ("generative", "discriminative", "gad"))}
    for p, fps in streamed.items():
        rows += ["", f"Streaming FPS, the paper's protocol (every test frame of {p} at batch 1, one seed): "
                 + ", ".join(f"{k} {v:.0f}" for k, v in fps.items())
                 + f"; discriminative / generative {fps['discriminative'] / fps['generative']:.2f}x."]
    rows.append("")
    if res.get("differences"):
        rows += difference_lines(res["differences"])
        rows += [learning_speed_line(c["steps_to_target"], p) for p, c in res.get("convergence", {}).items()]
    else:
        for a, b in (("discriminative", "generative"), ("gad", "discriminative")):
            diffs = [(p, paired_difference(m[a][f"{p}_seg_f1_0.1"], m[b][f"{p}_seg_f1_0.1"])) for p in presets]
            rows.append(f"- {a} − {b}, S-F1@0.1 points: " + ", ".join(f"{p} {d} ({a} ahead in {d.wins}/{d.n} seeds)"
                                                                     for p, d in diffs))
    t = res.get("tokenization")
    if t:
        shown = ", ".join(f"{k.removeprefix('gen_')} {fmt_mean_std(v['epic_like_seg_f1_0.1'])}" for k, v in t.items())
        rows.append(f"- tokenization study (epic_like, S-F1@0.1, seeds {res['token_seeds']}): {shown}.")
        if not res.get("differences"):  # else judged by intervals above
            rows += ["  " + claim_line(t, a, b, rel, key="epic_like_seg_f1_0.1") for a, b, rel in TOKENIZATION_CLAIMS]
    return "\n".join(rows)


def results_04(res: dict) -> str:
    """Notebook 04's GAD ablations on OAD (S-F1 / P-F1 next to the paper's CrossTask | EK100
    numbers), GAD on the offline tasks, and the conclusion the notebook computed."""
    m, p = res["metrics"], res["oad_preset"]
    rows = [f"**04 · GAD ablations**, data: {res['dataset']}, backbone: {res['backbone']}, {res['profile']} profile; "
            f"%, mean ± std over seeds {res['seeds']}; paper: CrossTask | EK100 with Llama-3.2-1B:", "",
            "| method | S-F1@0.1 | P-F1@1s | paper S-F1 / P-F1 | train ms / step (median) |", "|---|---|---|---|---|"]
    for method, s in m.items():
        if f"{p}_seg_f1_0.1" not in s:
            continue
        paper = res.get("paper", {}).get(method)
        ref = f"{paper[0]} / {paper[1]} \\| {paper[2]} / {paper[3]}" if paper else "–"
        ms = s.get("train_ms_per_step")
        rows.append(f"| {method} | {fmt_mean_std(s[f'{p}_seg_f1_0.1'])} | {fmt_mean_std(s[f'{p}_point_f1_1s'])} | {ref} | "
                    + (f"{ms['mean']:.0f} |" if ms else "– |"))
    offline = {k: v for k, v in m.items() if "step_top1" in v}
    rows.append("")
    rows.append("- offline top-1 (step / next / task): " + "; ".join(
        f"{k} {' / '.join(fmt_mean_std(v[f'{t}_top1']) for t in ('step', 'next', 'task'))}" for k, v in offline.items()) + ".")
    rows.append(f"- {res['conclusion']}")
    if res.get("differences"):
        rows += ["  " + line for line in difference_lines(res["differences"])]
    return "\n".join(rows)


def results_03(res: dict) -> str:
    """Notebook 03's misclassification-diversity table (raw, Miller-Madow and matched entropy,
    effective confusers, shares of errors keeping the verb / object against chance) and its
    computed conclusion."""
    m, datasets = res["metrics"], res["presets"] + [res["compare"]]
    rows = [f"**03 · misclassification diversity**, data: {res['dataset']}, backbone: {res['backbone']}; entropy of each "
            f"class's wrong predictions in nats (classes with >= {res['settings']['min_errors']} errors), mean ± std over "
            f"seeds {res['seeds']} ({res['compare']}: {res['compare_seeds']}); shares in %:", "",
            "| data | method | entropy (raw) | Miller-Madow | matched error counts | effective confusers | "
            "same verb (chance) | same object (chance) |", "|---|---|---|---|---|---|---|---|"]
    for p in datasets:
        for method in ("generative", "discriminative", "gad"):
            s = m[method]
            # a one-seed data set's cells: the mean alone (the header names its seeds)
            cells = [fmt_mean_std(s[f"{p}_{k}"], scale=1, digits=2, one_seed="") for k in
                     ("error_entropy", "error_entropy_mm", "error_entropy_matched", "effective_confusers")]
            cells += [f"{fmt_mean_std(s[f'{p}_share_{k}'], one_seed='')} ({100 * s[f'{p}_chance_{k}']['mean']:.1f})"
                      for k in ("same_verb", "same_object")]
            rows.append(f"| {p} | {method} | " + " | ".join(cells) + " |")
    rows.append("")
    rows += res["conclusion"].splitlines()
    return "\n".join(rows)


def results_backbone(res: dict) -> str:
    """`benchmarks/backbone_pretraining.py`: each classifier with the random-init and the pretrained
    embedded LM, trained to convergence, and the paired differences with their intervals."""
    m, st = res["metrics"], res["settings"]
    rows = [f"Measured by `python benchmarks/backbone_pretraining.py` ({res['seconds'] / 60:.0f} min, load average "
            f"{res['load_start']} at the start, {res['load_end']} at the end): {res['dataset']}; seeds {res['seeds']}; "
            f"every model trained to convergence (validated every {st['val_every']} epochs, patience {st['patience']} "
            f"epochs, at most {st['max_epochs']}). Top-1 % (offline) and S-F1@0.1 % (OAD), mean ± std over seeds; "
            "the steps are where each seed's kept weights are:", "",
            "| setting | method | scratch | pretrained | steps (scratch) | steps (pretrained) |", "|---|---|---|---|---|---|"]
    for key in m:
        setting, label, method = key.split(" ", 2)
        if label != "scratch":
            continue
        other = f"{setting} pretrained {method}"
        rows.append(f"| {setting} | {method} | {fmt_mean_std(m[key])} | {fmt_mean_std(m[other])} | "
                    f"{res['best_step'][key]} | {res['best_step'][other]} |")
    rows.append("")
    rows += difference_lines(res["differences"])
    verdicts = [d["verdict"] for k, d in res["differences"].items() if k.endswith("pretrained − scratch")]
    rows.append("- pretrained − scratch over all classifiers and settings: " + ", ".join(
        f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts)) + ".")
    return "\n".join(rows)


def results_oad_seeds(res: dict) -> str:
    """`benchmarks/oad_seeds.py`: an OAD comparison's interval against the number of seeds."""
    st = res["settings"]
    rows = [f"Measured by `python benchmarks/oad_seeds.py` ({res['seconds'] / 60:.1f} min, load average "
            f"{res['load_start']} at the start, {res['load_end']} at the end): {res['dataset']}, "
            f"{res['test_videos']} test videos, every model trained to convergence (patience {st['patience']} epochs, "
            f"at most {st['max_epochs']}). S-F1@0.1 differences in points over the first k seeds of {res['seeds']}:", "",
            "| seeds | comparison | mean | 95 % interval | half-width | per seed | verdict |", "|---|---|---|---|---|---|---|"]
    for key, d in res["differences"].items():
        k, pair = key.split(" seeds: ")
        rows.append(f"| {k} | {pair} | {d['mean']:+.1f} | [{d['ci95'][0]:+.1f}, {d['ci95'][1]:+.1f}] | "
                    f"{d['half_width']:.1f} | {', '.join(f'{x:+.1f}' for x in d['per_seed'])} | {d['verdict']} |")
    return "\n".join(rows)


# Why a verdict can differ from the paper's, said once per verdict (docs/instructors.md, talking points).
WHY = {"unresolved": "the interval contains 0: this run cannot tell the two apart (more seeds narrow it "
                     "when the seeds disagree, more test data when they agree)",
       "opposite": "the run excludes 0 the other way: discuss what differs from the paper here (synthetic "
                   "data, a 2-layer LM trained from scratch, a CPU budget) before calling it a contradiction",
       "not testable": "a side predicts one class almost everywhere, or a run stopped at its epoch cap: a defect "
                       "of that run to fix, not a finding",
       "equivalent": "an equality claim (A ≈ B): the interval lies inside the stated margin",
       "differs": "an equality claim the run contradicts: the interval lies wholly outside the margin",
       "one seed: no verdict": "a one-seed study: its interval resamples test units only, not the seed-to-seed "
                               "spread, so it gets no verdict"}


UNITS = {NB03: ("nats", 2)}   # a notebook whose differences are not in percentage points


def talking_points(results: dict[str, dict]) -> str:
    """For the instructor: every comparison of the last full run whose verdict is not "holds",
    per notebook, with its interval, and what such a verdict means in class."""
    out = []
    for name in sorted(results):
        missed = {k: d for k, d in results[name].get("differences", {}).items() if d.get("verdict") != "holds"}
        if not missed:
            continue
        held = len(results[name]["differences"]) - len(missed)
        out += [f"**{name}** ({held} of {len(results[name]['differences'])} comparisons hold):", ""]
        out += difference_lines(missed, *UNITS.get(name, ("points", 1))) + [""]
    seen = sorted({d.get("verdict") for r in results.values() for d in r.get("differences", {}).values()} & set(WHY))
    out += [f"- *{v}*: {WHY[v]}." for v in seen]
    return "\n".join(out).rstrip()


def autograde_time(res: dict, results: dict[str, dict]) -> str:
    """`benchmarks/nbgrader_autograde.py`: one submission autograded, beside that notebook's run time."""
    nb = res["assignment"]
    run = f"; the main job ran it in {run_minutes(results[nb]):.1f} min" if nb in results else ""
    config = (f", with the nbgrader_config.py that `python -m gadlib.course nbgrader` writes (cell timeout "
              f"{res['cell_timeout_s']} s)" if "cell_timeout_s" in res else "")
    slowest = res.get("slowest_cells") or []
    cell = (f" Its slowest cell ran {slowest[0]['seconds']:.0f} s (`{slowest[0]['first_line']}`)." if slowest else "")
    if slowest and "cell_timeout_s" in res and slowest[0]["seconds"] >= res["cell_timeout_s"] - 1:
        cell = (f" Its slowest cell (`{slowest[0]['first_line']}`) reached that timeout and was stopped: the "
                "self-contained exercise cells still scored, but the lesson's outputs were lost.")
    return (f"Measured by `python benchmarks/nbgrader_autograde.py` ({res['date']}, {res['machine']}, load average "
            f"{res['load_average_before'][0]} before){config}: `nbgrader autograde` of one submission of {nb} took "
            f"**{res['seconds'] / 60:.1f} min**{run}; it scored {res['auto_points']:g} of {res['auto_max']:g} "
            f"auto-graded points, {res['manual_cells']} answers left for hand grading.{cell}")


def thread_sensitivity(res: dict) -> str:
    """`benchmarks/thread_sensitivity.py`: which numbers of a notebook move with the thread count."""
    def change(group: str, value: float) -> str:
        if group.startswith("metrics"):
            return f"{value:.3f} ({100 * value:.1f} points)"
        return f"{value:.3g}"
    rows = ["| numbers | compared | moved | largest change |", "|---|---|---|---|"]
    for group, g in res["groups"].items():
        if g["moved"] or group.startswith(("metrics", "differences", "convergence", "error_sharing")):
            rows.append(f"| {group} | {g['compared']} | {g['moved']} | {change(group, g['max_abs_change']) if g['moved'] else '0'} |")
    flips = res.get("verdicts_changed", [])
    verdicts = ("; ".join(f"{m['key'].split('/')[2]}: {m['committed']} → {m['new']}" for m in flips)
                if flips else "none")
    return (f"Measured by `python benchmarks/thread_sensitivity.py` ({res['date']}, {res['machine']}, load average "
            f"{res['load_average_before'][0]} before): {res['assignment']} rerun with {res['threads']} thread(s) "
            f"(the committed run had {res['committed_torch_threads']}) took {res['seconds'] / 60:.1f} min; "
            f"{res['moved']} of its {res['compared']} non-timing numbers moved. Verdicts that changed: {verdicts}."
            + (f" Its slowest cell ran {res['slowest_cells'][0]['seconds']:.0f} s "
               f"(`{res['slowest_cells'][0]['first_line']}`)." if res.get("slowest_cells") else "") + "\n\n"
            + "\n".join(rows))


# The paper's four claims, and which comparisons of the results files test each (by their key).
PAPER_CLAIMS = (
    ("1 · discriminative beats generative", lambda k: "discriminative − generative" in k and "tokenization" not in k
     and "(" not in k),
    ("2 · shared label tokens, not their meaning, hurt generation",
     lambda k: "c=" not in k and any(m in k for m in ("gen_rand", "gen_desync", "gen_extend", "gen_text"))),
    ("3 · GAD beats discriminative; its ablations", lambda k: k.startswith(("gad − ", "discriminative − two_stage"))
     or ": gad − discriminative [" in k or k.endswith(": gad − discriminative")),
    ("4 · generative errors are more spread out", lambda k: "generative − discriminative (matched)" in k),
)


def claims_table(results: dict[str, dict]) -> str:
    """The paper's claims with the last full run's verdicts, per notebook: how many of the
    comparisons testing each claim got each verdict (`gadlib.evaluation.intervals.judge`)."""
    rows = ["| the paper's claim | notebook: verdicts of this run's comparisons |", "|---|---|"]
    for claim, tests in PAPER_CLAIMS:
        cells = []
        for name in sorted(results):
            verdicts = [d.get("verdict") for k, d in results[name].get("differences", {}).items() if tests(k)]
            if verdicts:
                counts = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(verdicts))
                cells.append(f"{name[:2]}: {counts}")
        rows.append(f"| {claim} | {'; '.join(cells) or 'not tested'} |")
    return "\n".join(rows)


def code_paths(res: dict) -> str:
    """`benchmarks/code_paths.py`: the same short trainings under each CPU code path, against the default."""
    rows = [f"Measured by `python benchmarks/code_paths.py` ({res['date']}, {res['cpu']}, {res['cpu_capability']}, "
            f"{res['blas']}, load average {res['load_before']} before): the same short trainings (3 epochs, "
            "5 runs) in a fresh interpreter per setting.", "",
            "| setting | runs bit-identical to the default | wall time |", "|---|---|---|"]
    rows += [f"| {name} | {v['bit_identical_to_default']} | {v['seconds']:.0f} s |" for name, v in res["settings"].items()]
    return "\n".join(rows)


def _need(results: dict[str, dict], name: str) -> dict:
    if name not in results:
        how = (f"python benchmarks/{name}.py" if name in BENCHMARK_RESULTS.values()
               else f"run notebooks/{name}.ipynb (python -m gadlib.run_notebooks)")
        raise FileNotFoundError(f"no results/{name}.json: {how}")
    return results[name]


# Blocks made from a benchmark's results file (results/<name>.json), not a notebook's.
BENCHMARK_RESULTS = {"backbone-pretraining": "backbone_pretraining", "oad-seeds": "oad_seeds_thumos_like",
                     "autograde-time": "nbgrader_autograde", "thread-sensitivity": "thread_sensitivity",
                     "code-paths": "code_paths"}
# Block name -> how to make it from (its current text, all results).
BLOCKS = {
    "quickstart-time": lambda old, r: quickstart_time(r),
    "notebook-table": notebook_table,
    "results-01": lambda old, r: results_01(_need(r, NB01)),
    "results-02": lambda old, r: results_02(_need(r, NB02)),
    "results-03": lambda old, r: results_03(_need(r, NB03)),
    "results-04": lambda old, r: results_04(_need(r, NB04)),
    "results-05": lambda old, r: results_05(_need(r, NB05)),
    "results-all": lambda old, r: methods_table(r),
    "paper-claims": lambda old, r: claims_table(r),
    "backbone-pretraining": lambda old, r: results_backbone(_need(r, BENCHMARK_RESULTS["backbone-pretraining"])),
    "talking-points": lambda old, r: talking_points(r),
    "oad-seeds": lambda old, r: results_oad_seeds(_need(r, BENCHMARK_RESULTS["oad-seeds"])),
    "autograde-time": lambda old, r: autograde_time(_need(r, BENCHMARK_RESULTS["autograde-time"]), r),
    "thread-sensitivity": lambda old, r: thread_sensitivity(_need(r, BENCHMARK_RESULTS["thread-sensitivity"])),
    "lecture-plan": notebook_table,
    "code-paths": lambda old, r: code_paths(_need(r, BENCHMARK_RESULTS["code-paths"])),
}
# Markdown files with generated blocks, besides the README (rewritten and checked with it).
GENERATED_DOCS = ("docs/results.md", "docs/hardware.md", "docs/instructors.md")


def generated_files(root: Path | None = None) -> list[Path]:
    """The README and every GENERATED_DOCS file that exists: the markdown files with generated blocks."""
    root = root or repo_root()
    return [root / "README.md", *(root / d for d in GENERATED_DOCS if (root / d).is_file())]


def render_readme(text: str, folder: Path | None = None) -> str:
    """`text` with every generated block remade from the results files in `folder`."""
    results = load_all(folder or results_dir())

    def remake(match: re.Match) -> str:
        name, body, end = match.groups()
        if end != name:
            raise ValueError(f"README: generated block {name!r} is closed by {END.format(end)!r}")
        if name not in BLOCKS:
            raise ValueError(f"README: unknown generated block {name!r}; known: {sorted(BLOCKS)}")
        given = results
        if name in BENCHMARK_RESULTS:
            path = Path(folder or results_dir()) / f"{BENCHMARK_RESULTS[name]}.json"
            given = {**results, BENCHMARK_RESULTS[name]: read_results_file(path)} if path.exists() else {}
        return f"{BEGIN.format(name)}\n{BLOCKS[name](body.rstrip(chr(10)), given)}\n{END.format(name)}"

    out = _BLOCK.sub(remake, text)
    opened, closed = text.count("<!-- BEGIN generated:"), text.count("<!-- END generated:")
    if opened != closed:
        raise ValueError(f"README: {opened} generated blocks opened but {closed} closed")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gadlib.readme_table", description=__doc__.split("\n")[0])
    p.add_argument("--write", action="store_true", help="rewrite the README's generated blocks in place")
    p.add_argument("--check", action="store_true", help="exit 1 if the README's generated blocks are stale")
    p.add_argument("--readme", type=Path, default=None, help="default: README.md at the repository root")
    args = p.parse_args(argv)
    if not (args.write or args.check):
        print(results_table())
        return 0
    files = [args.readme] if args.readme else generated_files()
    stale = 0
    for readme in files:
        old = readme.read_text()
        new = render_readme(old)
        if args.write:
            readme.write_text(new)
            print(f"{readme}: {'updated' if new != old else 'already up to date'}")
        elif new != old:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(readme), "generated"))
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
