"""The OAD timeline figure and explorer (notebook 05): what is drawn is what was predicted."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gadlib.evaluation.oad import DensePrediction  # noqa: E402
from gadlib.lessons.widgets import oad_timeline_explorer, oad_timeline_figure, timeline_colours  # noqa: E402


def _video(video_id, truth, shift):
    truth = np.asarray(truth)
    return DensePrediction(video_id, np.zeros((len(truth), 8), np.float32), np.roll(truth, shift), truth,
                           np.zeros(len(truth), bool))


def test_timeline_colours_are_distinct_and_only_background_is_grey():
    for n in (2, 8, 21, 61, 201):
        rows = [np.arange(n), np.arange(n)[::-1]]
        c = timeline_colours(rows)
        assert sorted(c) == list(range(n))
        assert len({tuple(np.round(x, 4)) for x in c.values()}) == n   # one colour per class shown
        assert np.ptp(c[0][:3]) == 0  # background: grey
        assert all(np.ptp(c[k][:3]) > 0.1 for k in range(1, n))  # every action: a colour


def test_timeline_rows_are_truth_then_each_methods_prediction():
    truth = [0, 0, 3, 3, 3, 0, 5, 5, 0, 7]
    preds = {"generative": [_video("a", truth, 1)], "discriminative": [_video("a", truth, 2)]}
    names = ["background"] + [f"c{i}" for i in range(1, 8)]
    fig = oad_timeline_figure(preds, names, video=0, start=2, length=6)
    ax = fig.axes[0]
    image = ax.images[0].get_array()
    expected = [np.asarray(truth)[2:8]] + [p[0].pred[2:8] for p in preds.values()]
    colours = timeline_colours(expected)
    np.testing.assert_allclose(image, np.stack([[colours[c] for c in r] for r in expected]))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["truth", "generative", "discriminative"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1 · c3", "2 · c5"]  # c7 lies outside frames 2-7
    # on a 6-frame strip every segment has room for its legend number, at its centre: truth c3
    # (frames 2-4), c5 (6-7); generative (shift 1) c3 (3-5), c5 (7); discriminative (shift 2) c3 (4-6)
    assert sorted((t.get_text(), t.get_position()) for t in ax.texts) == sorted(
        [("1", (3.0, 0)), ("2", (6.5, 0)), ("1", (4.0, 1)), ("2", (7.0, 1)), ("1", (5.0, 2))])
    assert ax.get_title().startswith("test video 0 (a), frames 2-7")
    assert "seed 4" in oad_timeline_figure(preds, names, seed=4).axes[0].get_title()
    plt.close(fig)


def test_explorer_frame_slider_follows_the_chosen_video():
    preds = {"gad": [_video("a", [0, 1, 1, 0], 0), _video("b", [0] * 10, 0)]}
    box = oad_timeline_explorer(preds, ["background", "c1"], window=4)
    video, frame = box.children[0].children
    assert (video.max, frame.max) == (1, 3)
    video.value = 1
    assert frame.max == 9


def test_a_headless_run_shows_a_note_instead_of_the_explorer(monkeypatch):
    from IPython.display import Markdown

    from gadlib.lessons.widgets import STATIC_ENV, error_destinations_explorer, oad_timeline_explorer, sample_explorer
    monkeypatch.setenv(STATIC_ENV, "1")
    for explorer, args in ((sample_explorer, (None, {}, {})), (oad_timeline_explorer, ({}, [])),
                           (error_destinations_explorer, ({}, []))):
        note = explorer(*args)
        assert isinstance(note, Markdown) and explorer.__name__ in note.data
