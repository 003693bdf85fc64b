"""Notebook 01's sample explorer: readable labels that do not collide, one redraw per change."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gadlib.lessons import widgets  # noqa: E402
from gadlib.lessons.plots import KIND_TITLES  # noqa: E402
from gadlib.data.samples import label_names, step_recognition_samples  # noqa: E402


def test_sample_figure_method_names_do_not_overlap_the_predictions(dataset):
    samples = {"step": step_recognition_samples(dataset, "test", num_frames=2)}
    C = len(label_names(dataset, "steps"))
    rng = np.random.default_rng(0)
    results = {m: {"step": {"scores": rng.normal(size=(len(samples["step"]), C))}}
               for m in ("generative_exact", "discriminative", "gad")}
    fig = widgets.sample_figure(dataset, samples, results, "step", 0)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert fig.get_figwidth() <= 8.5  # shown near full size (readable) in a 1024-px JupyterLab window
    for ax, method in zip(fig.axes[1:], results):
        texts = ax.texts
        name, scale, predictions = texts[0], texts[1], texts[2:]
        assert name.get_text().replace("\n", "_") == method and len(predictions) == 5
        assert name.get_color() == widgets.method_color(method) and scale.get_text() == widgets.score_scale(method).replace(": ", ":\n")
        boxes = [t.get_window_extent(renderer) for t in texts]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert not boxes[i].overlaps(boxes[j]), (method, texts[i].get_text(), texts[j].get_text())
        assert min(t.get_fontsize() for t in (name, *predictions)) >= 9 and scale.get_fontsize() >= 7
    plt.close(fig)


def test_explorer_draws_once_per_change_and_clamps_the_sample(monkeypatch):
    calls = []

    def fake_figure(dataset, samples_by_kind, results, kind, index, k=5):
        calls.append((kind, index))
        assert 0 <= index < len(samples_by_kind[kind]), "drew a sample past the end"
        return plt.figure()

    monkeypatch.setattr(widgets, "sample_figure", fake_figure)
    samples = {"step": list(range(300)), "next": list(range(120)), "task": list(range(5))}
    box = widgets.sample_explorer(None, samples, {})
    kind, index = box.children[:2]
    assert kind.description != "task" and [label for label, _ in kind.options] == [KIND_TITLES[k] for k in samples]
    assert calls == [("step", 0)] and index.max == 299
    index.value = 250
    assert calls[-1] == ("step", 250) and len(calls) == 2
    kind.value = "task"  # the slider is past the new end: shrink it, then draw once
    assert calls[2:] == [("task", 4)] and index.max == 4
    kind.value = "next"
    assert calls[3:] == [("next", 4)] and index.max == 119


def test_sample_figure_long_bold_names_fit_their_columns(dataset, monkeypatch):
    """A 16-letter class name set in bold ('pour brown sugar', the truth) ran into the next column."""
    samples = {"step": step_recognition_samples(dataset, "test", num_frames=2)}
    C = len(label_names(dataset, "steps"))
    long = ["pour brown sugar", "sand brown sugar", "hammer brown sugar", "pour black pepper", "boil baking soda",
            "place mayonnaise", "clamp shower head", "chop extension cord"]
    target = samples["step"][0].target
    names = [f"class {i}" for i in range(C)]
    names[target] = long[0]
    for i, name in zip([c for c in range(C) if c != target], long[1:]):
        names[i] = name
    monkeypatch.setattr(widgets, "label_names", lambda ds, kind: names)
    scores = np.zeros((len(samples["step"]), C))
    scores[0] = -np.arange(C, dtype=float)   # class order: the long names first
    scores[0, target] = 1.0   # the truth (bold) first, then the long names
    fig = widgets.sample_figure(dataset, samples, {"generative_exact": {"step": {"scores": scores}}}, "step", 0)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = fig.axes[1].texts
    # the truth: bold and boxed, in black (green would read as GAD's colour)
    assert texts[2].get_weight() == "bold" and texts[2].get_bbox_patch() is not None
    assert texts[2].get_color() == "black" and texts[3].get_bbox_patch() is None
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
    plt.close(fig)


def test_sample_figure_says_each_score_scale_and_prints_greedy_edit_distances_as_integers(dataset):
    """Greedy decoding scores minus an edit distance: the decoded class scored -0.0 and read "-0.00"."""
    samples = {"step": step_recognition_samples(dataset, "test", num_frames=2)}
    C = len(label_names(dataset, "steps"))
    greedy = -np.tile(np.arange(C, dtype=float), (len(samples["step"]), 1))   # 0 (shown as -0.0), -1, -2, ...
    results = {"generative": {"step": {"scores": greedy}},
               "discriminative": {"step": {"scores": np.log(np.full((len(samples["step"]), C), 1 / C))}}}
    fig = widgets.sample_figure(dataset, samples, results, "step", 0)
    gen, disc = fig.axes[1].texts, fig.axes[2].texts
    assert gen[1].get_text() == "score:\n− edit distance" and disc[1].get_text() == "score:\nlog softmax"
    assert [t.get_text().rsplit("\n", 1)[1] for t in gen[2:]] == ["0", "-1", "-2", "-3", "-4"]
    assert disc[2].get_text().rsplit("\n", 1)[1] == f"{np.log(1 / C):.2f}"
    assert widgets.score_scale("generative_exact") == "score: log p(label)" and widgets.score_scale("gad") == "score: log softmax"
    plt.close(fig)
