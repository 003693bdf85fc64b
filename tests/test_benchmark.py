"""The synthetic benchmark: determinism, and every knob doing what its docstring says."""

import math

import numpy as np
import pytest

from gadlib.data.benchmark import OBJECTS, PRESETS, TASKS, VERBS, BenchmarkConfig, generate_benchmark, preset
from gadlib.data.vocabulary import label_overlap_stats

SMALL = dict(num_classes=24, num_tasks=6, steps_per_task=(4, 6), videos_per_task=6, feature_dim=16)


def _counts(dataset, subset=None):
    labels = [s.label for v in dataset.videos if subset in (None, v.subset) for s in v.segments]
    return np.bincount(labels, minlength=len(dataset.step_names))


def _same(a, b) -> bool:
    return (a.step_names == b.step_names and a.task_names == b.task_names
            and [(v.video_id, v.task, v.subset, v.segments) for v in a.videos]
            == [(v.video_id, v.task, v.subset, v.segments) for v in b.videos])


def test_vocabulary_has_no_duplicates_and_verbs_are_single_words():
    assert len(set(VERBS)) == len(VERBS) and all(" " not in v for v in VERBS)
    assert len(set(OBJECTS)) == len(OBJECTS) >= 150
    assert any(" " in o for o in OBJECTS) and any(":" in o for o in OBJECTS)
    assert len(set(TASKS)) == len(TASKS)


def test_same_seed_same_data_different_seed_different_data():
    a, b = generate_benchmark(BenchmarkConfig(**SMALL)), generate_benchmark(BenchmarkConfig(**SMALL))
    assert _same(a, b)
    assert all(np.array_equal(x.features, y.features) for x, y in zip(a.videos, b.videos))
    c = generate_benchmark(BenchmarkConfig(**SMALL, seed=1))
    assert c.step_names != a.step_names
    assert not np.array_equal(a.videos[0].features[:5], c.videos[0].features[:5])


def test_noise_changes_only_the_noise():
    quiet = generate_benchmark(BenchmarkConfig(**SMALL, noise=0.0))
    loud = generate_benchmark(BenchmarkConfig(**SMALL, noise=1.0))
    assert _same(quiet, loud)  # separate random streams: labels and timing do not move
    diff = np.concatenate([(b.features - a.features).ravel() for a, b in zip(quiet.videos, loud.videos)])
    assert abs(diff.std() - 1.0) < 0.05 and abs(diff.mean()) < 0.05
    signal = np.concatenate([v.features.ravel() for v in quiet.videos])
    assert 0.6 < signal.std() < 1.6  # noise is relative to a per-dimension signal std of ~1


def test_shapes_durations_and_gaps_follow_the_config():
    config = BenchmarkConfig(**{**SMALL, "feature_dim": 24}, tokens_per_frame=3, step_frames=(3, 5),
                             background_frames=(2, 4))
    dataset = generate_benchmark(config)
    assert dataset.feature_dim == 24 and dataset.tokens_per_frame == 3
    for v in dataset.videos:
        assert v.features.dtype == np.float32
        starts = [s.start for s in v.segments] + [len(v.features)]
        ends = [0] + [s.end for s in v.segments]
        assert all(3 <= s.end - s.start <= 5 for s in v.segments)
        assert all(2 <= start - end <= 4 for start, end in zip(starts, ends))


def test_every_class_occurs_in_training_and_every_task_in_both_splits():
    for name in PRESETS:
        dataset = generate_benchmark(preset(name))
        assert (_counts(dataset, "train") > 0).all(), name
        for subset in ("train", "test"):
            assert {v.task for v in dataset.split(subset)} == set(range(len(dataset.task_names))), name


def test_the_first_training_video_of_a_task_performs_the_whole_script():
    dataset = generate_benchmark(BenchmarkConfig(**SMALL, optional_prob=1.0, skip_prob=1.0, swap_prob=0.0))
    for task in range(6):
        lengths = [len(v.segments) for v in dataset.videos if v.task == task]
        full = [v.subset for v in dataset.videos if v.task == task and len(v.segments) > 1]
        assert full == ["train"] and sorted(lengths)[:-1] == [1] * (len(lengths) - 1)
    assert (_counts(dataset, "train") > 0).all()


def test_test_fraction():
    dataset = generate_benchmark(BenchmarkConfig(**{**SMALL, "videos_per_task": 10}, test_fraction=0.3))
    assert len(dataset.split("test")) == 6 * 3


def test_without_skips_or_swaps_every_video_of_a_task_follows_one_script():
    dataset = generate_benchmark(BenchmarkConfig(**SMALL, optional_prob=0.0, swap_prob=0.0))
    for task in range(6):
        orders = {tuple(s.label for s in v.segments) for v in dataset.videos if v.task == task}
        assert len(orders) == 1
        assert 4 <= len(next(iter(orders))) <= 6


def test_skips_and_swaps_vary_the_order_but_the_script_still_predicts_the_next_step():
    dataset = generate_benchmark(BenchmarkConfig(**{**SMALL, "videos_per_task": 30}))
    orders = {tuple(s.label for s in v.segments) for v in dataset.videos if v.task == 0}
    assert len(orders) > 1
    following: dict = {}
    for v in dataset.videos:
        for a, b in zip(v.segments, v.segments[1:]):
            following.setdefault((v.task, a.label), []).append(b.label)
    top_share = [np.bincount(nxt).max() / len(nxt) for nxt in following.values()]
    assert 0.6 < np.mean(top_share) < 1.0  # learnable, not trivial


@pytest.mark.parametrize("num_classes", [20, 100, 400])
def test_label_overlap_crowds_classes_onto_fewer_words(num_classes):
    stats = [label_overlap_stats(generate_benchmark(BenchmarkConfig(
        num_classes=num_classes, num_tasks=60, steps_per_task=(8, 10), videos_per_task=1, test_fraction=0.0,
        feature_dim=4, label_overlap=overlap)).step_names) for overlap in (0.0, 0.5, 1.0)]
    verbs, objects = [s["num_verbs"] for s in stats], [s["num_objects"] for s in stats]
    assert verbs[0] >= verbs[1] > verbs[2]  # equal only where the 60 verbs run out
    assert objects[0] > objects[1] > objects[2]
    shared = [s["share_first_word_shared"] for s in stats]
    assert shared == sorted(shared)
    crowding = [s["classes_per_first_word"] for s in stats]
    assert crowding[0] <= crowding[1] < crowding[2]
    assert verbs[2] == math.ceil(num_classes ** 0.5) or verbs[2] == round(num_classes ** 0.5)
    if num_classes <= len(VERBS):
        assert shared[0] == 0.0 and verbs[0] == num_classes


def test_zipf_tail_is_long_and_balanced_is_flat():
    common = dict(num_classes=80, num_tasks=30, steps_per_task=(10, 14), videos_per_task=8,
                  feature_dim=4, optional_prob=0.0)
    slopes = {}
    for tail in ("balanced", "zipf"):
        counts = np.sort(_counts(generate_benchmark(BenchmarkConfig(**common, tail=tail))))[::-1]
        ranks = np.arange(1, len(counts) + 1)
        slopes[tail] = np.polyfit(np.log(ranks), np.log(counts), 1)[0]
        if tail == "zipf":
            assert counts[:8].mean() > 8 * counts[-40:].mean()
        else:
            assert counts.max() <= 2 * counts.min()
    assert slopes["zipf"] < -0.6 and slopes["balanced"] > -0.2


def test_balanced_scripts_use_every_class_equally_often_when_lengths_allow():
    config = BenchmarkConfig(num_classes=20, num_tasks=5, steps_per_task=(4, 6), videos_per_task=5,
                             optional_prob=0.0, feature_dim=4)
    assert set(_counts(generate_benchmark(config)).tolist()) == {5}


def _class_prototypes(dataset) -> np.ndarray:
    sums = np.zeros((len(dataset.step_names), dataset.feature_dim))
    for v in dataset.videos:
        for s in v.segments:
            sums[s.label] += v.features[s.start:s.end].mean(axis=1).sum(axis=0)
    return sums / np.linalg.norm(sums, axis=1, keepdims=True)


@pytest.mark.parametrize("compositionality", [0.0, 1.0])
def test_compositionality_makes_classes_sharing_a_verb_look_alike(compositionality):
    config = BenchmarkConfig(num_classes=49, num_tasks=10, steps_per_task=(5, 6), videos_per_task=8,
                             label_overlap=1.0, task_signal=0.0, noise=0.5, feature_dim=64,
                             compositionality=compositionality)
    dataset = generate_benchmark(config)
    proto = _class_prototypes(dataset)
    verb = [n.split(" ", 1)[0] for n in dataset.step_names]
    obj = [n.split(" ", 1)[1] for n in dataset.step_names]
    same_verb, unrelated = [], []
    for i in range(len(verb)):
        for j in range(i + 1, len(verb)):
            cos = float(proto[i] @ proto[j])
            if verb[i] == verb[j]:
                same_verb.append(cos)
            elif obj[i] != obj[j]:
                unrelated.append(cos)
    gap = np.mean(same_verb) - np.mean(unrelated)
    if compositionality == 0.0:
        assert abs(gap) < 0.1
    else:
        assert gap > 0.3


def test_task_signal_makes_videos_of_a_task_alike():
    def task_similarity(signal):
        dataset = generate_benchmark(BenchmarkConfig(**SMALL, task_signal=signal, noise=0.5))
        mean = np.stack([v.features.mean(axis=(0, 1)) for v in dataset.videos])
        mean /= np.linalg.norm(mean, axis=1, keepdims=True)
        tasks = np.array([v.task for v in dataset.videos])
        cos = mean @ mean.T
        same = tasks[:, None] == tasks[None, :]
        np.fill_diagonal(same, False)
        return cos[same].mean() - cos[tasks[:, None] != tasks[None, :]].mean()

    assert task_similarity(1.0) > task_similarity(0.0) + 0.2


def test_descriptive_labels_are_long():
    stats = label_overlap_stats(generate_benchmark(preset("goalstep_like")).step_names)
    assert 5 <= stats["mean_words"] <= 8 and stats["share_any_word_shared"] == 1.0


def test_presets():
    for name in PRESETS:
        cpu, gpu = preset(name, "cpu"), preset(name, "gpu")
        assert cpu.name == name
        size = [c.num_classes * c.videos_per_task * c.num_tasks for c in (cpu, gpu)]
        assert size[1] >= 5 * size[0], name
        assert (cpu.layout == "coin") == (name == "coin_like")
        assert (cpu.tokens_per_frame > 1) == (name == "coin_like")
    assert label_overlap_stats(generate_benchmark(preset("thumos_like")).step_names)["share_first_word_shared"] == 0.0
    assert preset("epic_like").tail == "zipf"
    assert preset("coin_like", noise=2.5).noise == 2.5


def test_bad_config_and_preset_names():
    with pytest.raises(ValueError, match="label_overlap"):
        BenchmarkConfig(label_overlap=1.5)
    with pytest.raises(ValueError, match="steps_per_task"):
        BenchmarkConfig(num_classes=100, num_tasks=2, steps_per_task=(3, 5))
    with pytest.raises(ValueError, match="tail"):
        BenchmarkConfig(tail="pareto")
    with pytest.raises(ValueError, match="tokens_per_frame"):
        BenchmarkConfig(layout="oad", tokens_per_frame=4)
    with pytest.raises(ValueError, match="unknown preset 'kinetics_like'"):
        preset("kinetics_like")
    with pytest.raises(ValueError, match="num_clases"):
        preset("coin_like", num_clases=3)
    with pytest.raises(ValueError, match="size"):
        preset("coin_like", "tpu")


def test_label_overlap_stats_on_hand_written_names():
    stats = label_overlap_stats(["add sugar", "add salt", "pour olive oil", "cut bread", "wash olive"])
    assert stats == {"num_classes": 5, "mean_words": 2.2, "share_first_word_shared": 0.4,
                     "share_any_word_shared": 0.8, "classes_per_first_word": 1.4, "num_verbs": 4,
                     "num_objects": 5}
    with pytest.raises(ValueError, match="empty"):
        label_overlap_stats([])
