"""Notebook 00's explanatory drawings (gadlib.lessons.diagrams): the OAD window's two labels sit over
their own regions, and background frames are keyed in a legend."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gadlib.lessons.diagrams import plot_classifiers, plot_strips  # noqa: E402

NAMES = ["background", "pour", "stir"]
TRUTH = np.array([0, 1, 1, 1, 0, 2, 2, 2, 2, 0])


def test_window_labels_sit_over_the_window_and_the_future():
    ax = plot_strips({"truth": TRUTH}, NAMES, fps=1, window=(2, 5))
    texts = {t.get_text(): t.get_position()[0] for t in ax.texts}
    assert 2 <= texts["the window: recent frames seen at frame 5"] <= 6   # over frames 2..5
    assert 6 <= texts["future: unseen"] <= 10                      # over frames 6..9
    plt.close("all")


def test_background_is_keyed_in_a_legend_only_when_shown():
    ax = plot_strips({"truth": TRUTH}, NAMES, fps=1)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["· = background"]
    assert plot_strips({"truth": np.array([1, 1, 2])}, NAMES).get_legend() is None
    plt.close("all")


def test_classifiers_draw():
    assert plot_classifiers(label="add sugar", goal="make tea").texts
    plt.close("all")
