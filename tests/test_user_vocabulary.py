"""A user's own class vocabulary in the synthetic benchmark, up to EPIC-Kitchens-100 size (~4000
names), real data sets' name spellings in the overlap statistics, and the embedded tokenizer
growing for desync with thousands of classes."""
from __future__ import annotations

import numpy as np
import pytest

from gadlib.data.benchmark import BenchmarkConfig, generate_benchmark
from gadlib.data.vocabulary import label_overlap_stats, label_words, OBJECTS, VERBS

# EPIC-Kitchens-100 spelling: verb_noun with the noun's qualifiers after ":" ("wrap:plastic").
EK_NAMES = [f"{verb}_{obj.replace(' ', ':')}" for obj in OBJECTS for verb in VERBS[:19]][:4000]


def test_label_words_split_real_data_set_names():
    assert label_words("CliffDiving") == ["cliff", "diving"]
    assert label_words("take_pan") == ["take", "pan"]
    assert label_words("wrap:plastic") == ["wrap", "plastic"]
    assert label_words("pick-up") == ["pick", "up"]
    assert label_words("put-down /  bag:paper") == ["put", "down", "bag", "paper"]
    assert label_words("BBQGrill sauté step2") == ["bbq", "grill", "sauté", "step", "2"]
    assert label_words("Diving") == ["diving"]


def test_label_overlap_stats_on_real_style_names():
    # THUMOS'14 / EK100 spellings: CliffDiving shares "diving" with Diving, and the EK100 names
    # share verbs and nouns only once split on "_" and ":".
    stats = label_overlap_stats(["CliffDiving", "Diving", "BaseballPitch", "take_pan", "take_wrap:plastic",
                                 "put_pan", "pick-up"])
    assert stats["num_verbs"] == 6  # cliff, diving, baseball, take, put, pick
    assert stats["share_first_word_shared"] == pytest.approx(2 / 7)  # take_pan, take_wrap:plastic
    # cliff diving, diving, take pan, take wrap plastic, put pan share a word; baseball pitch, pick up do not
    assert stats["share_any_word_shared"] == pytest.approx(5 / 7)
    assert stats["mean_words"] == pytest.approx((2 + 1 + 2 + 2 + 3 + 2 + 2) / 7)
    with pytest.raises(ValueError, match=r"without a letter or digit: \['--'\]"):
        label_overlap_stats(["add salt", "--"])


def _small(**changes) -> BenchmarkConfig:
    base = dict(num_tasks=2, steps_per_task=(2, 3), videos_per_task=3, step_frames=(2, 3),
                background_frames=(1, 1), feature_dim=8, latent_dim=8)
    return BenchmarkConfig(**{**base, **changes})


def test_class_names_from_a_list_or_a_file(tmp_path):
    names = ["take_pan", "take_cup", "put_pan", "Diving", "CliffDiving"]
    config = _small(class_names=names, num_classes=40)
    assert config.num_classes == 5  # set from the names
    data = generate_benchmark(config)
    assert data.step_names == names  # class i is the i-th name
    assert {s.label for v in data.split("train") for s in v.segments} == set(range(5))

    path = tmp_path / "my_labels.txt"
    path.write_text("# my label set\n take_pan\n\ntake_cup\nput_pan \nDiving\nCliffDiving\n", encoding="utf-8")
    from_file = generate_benchmark(_small(class_names=str(path)))
    assert from_file.step_names == names
    for a, b in zip(data.videos, from_file.videos):  # the same names give the same data
        np.testing.assert_array_equal(a.features, b.features)


def test_user_names_drive_the_compositional_appearance():
    from gadlib.data.benchmark import _user_classes

    _, verb_of, object_of = _user_classes(["take_pan", "take_cup", "put_pan", "Diving", "diving"])
    assert verb_of.tolist() == [0, 0, 1, 2, 2]        # take, take, put, diving, diving
    assert object_of.tolist() == [0, 1, 0, 2, 3]      # pan, cup, pan; one-word names: their own object
    # compositionality 1, no noise, no scale jitter in expectation: classes sharing words look alike
    data = generate_benchmark(_small(class_names=["take_pan", "take_cup", "put_pan", "wash_cup"],
                                     compositionality=1.0, noise=0.0, task_signal=0.0, videos_per_task=6))
    means = {}
    for v in data.videos:
        for s in v.segments:
            means.setdefault(s.label, []).append(v.features[s.start:s.end, 0].mean(0))
    unit = {k: np.mean(m, 0) / np.linalg.norm(np.mean(m, 0)) for k, m in means.items()}
    assert unit[0] @ unit[1] > 0.2 and unit[0] @ unit[2] > 0.2   # share take / pan
    assert abs(unit[0] @ unit[3]) < unit[0] @ unit[1]             # take_pan vs wash_cup: nothing shared


@pytest.mark.parametrize("names,match", [
    (["take_pan", "take_pan", "put_pan"], r"duplicate class names \['take_pan'\]"),
    (["take_pan", "  "], r"names without a letter or digit"),
    ([], "no class names"),
    ("/nonexistent/labels.txt", r"file /nonexistent/labels.txt not found"),
    ([1, 2], "expected a list of strings"),
])
def test_bad_class_names_are_named(names, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        _small(class_names=names)


def test_a_duplicate_in_a_file_names_the_file(tmp_path):
    (tmp_path / "labels.txt").write_text("a b\nc d\na b\n")
    with pytest.raises(ValueError, match=r"labels.txt: duplicate class names \['a b'\]"):
        _small(class_names=tmp_path / "labels.txt")


def test_four_thousand_names_generate_and_desync_gets_a_larger_vocabulary():
    """EK100-sized: every class occurs in training, and desync's random tokens stay distinct."""
    from gadlib.core.backbone import BackboneConfig
    from gadlib.lms.build import load_tokenizer
    from gadlib.core.label_spaces import LabelSpace
    from gadlib.lms.build import build_classifier
    from gadlib.lms.tokenizer import WORD_TOKENS, desync_vocab_size

    assert len(EK_NAMES) == 4000 and len(set(EK_NAMES)) == 4000
    config = BenchmarkConfig(class_names=EK_NAMES, num_tasks=60, steps_per_task=(60, 80), videos_per_task=2,
                             tail="zipf", step_frames=(2, 3), background_frames=(1, 1), layout="oad",
                             feature_dim=8, latent_dim=8)
    data = generate_benchmark(config)
    assert len(data.step_names) == 4000 and len(data.task_names) == 60
    assert {s.label for v in data.split("train") for s in v.segments} == set(range(4000))
    stats = label_overlap_stats(data.step_names)
    assert stats["num_verbs"] == 19 and stats["classes_per_first_word"] > 200

    base = load_tokenizer(BackboneConfig())
    # small label sets: unchanged; the vocabulary is the 4096-token BPE + the "background" word token
    assert desync_vocab_size([EK_NAMES[:40]], base) == len(base) - len(WORD_TOKENS) == 4096
    with pytest.raises(ValueError, match="desync needs .* distinct tokens"):
        LabelSpace(EK_NAMES, base, "desync")
    size = desync_vocab_size([EK_NAMES, data.task_names], base)
    assert size > 4096

    classifier = build_classifier("generative", {"steps": EK_NAMES}, visual_dim=8, mapping="desync")
    tok, lm = classifier.mllm.tokenizer, classifier.mllm.lm
    assert len(tok) - len(WORD_TOKENS) == classifier.spec["backbone"]["vocab_size"] == desync_vocab_size([EK_NAMES], base) <= size
    assert lm.get_output_embeddings().weight.shape[0] == len(tok)
    sequences = classifier.label_spaces["steps"].sequences
    flat = [t for s in sequences for t in s]
    assert len(set(flat)) == len(flat) and max(flat) < len(tok)  # no token shared by two classes
    # Growing the vocabulary never changes how text is tokenized (text / rand mappings unchanged).
    assert classifier.label_spaces["steps"].text_sequences == LabelSpace(EK_NAMES, base, "text").sequences
