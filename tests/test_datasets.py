"""Data types, the COIN and OAD layouts (round trips, hand-written files, bad input), ensure_benchmark."""

import json
import os

import numpy as np
import pytest

from gadlib.data import layout_io, oad_layout
from gadlib.data.benchmark import BenchmarkConfig, generate_benchmark
from gadlib.data.datasets import (Segment, Video, VideoDataset, ensure_benchmark, read_coin, read_oad,
                             write_coin, write_oad)
from gadlib.data.owned_files import ForeignFileError

STEPS = ["add salt", "pour water", "stir soup"]
TASKS = ["make soup", "clean up"]


def _dataset(tokens: int = 2, tasks: bool = True) -> VideoDataset:
    rng = np.random.default_rng(0)
    videos = [
        Video("a", rng.standard_normal((20, tokens, 5)).astype(np.float32),
              [Segment(2, 6, 0), Segment(6, 9, 2), Segment(12, 20, 1)], 1 if tasks else None, "train"),
        Video("b", rng.standard_normal((9, tokens, 5)).astype(np.float32),
              [Segment(0, 4, 1)], 0 if tasks else None, "train"),
        Video("c", rng.standard_normal((11, tokens, 5)).astype(np.float32),
              [Segment(3, 5, 2), Segment(7, 10, 0)], 0 if tasks else None, "test"),
    ]
    return VideoDataset("tiny", videos, list(STEPS), list(TASKS) if tasks else [], fps=2.0)


def _assert_same(a: VideoDataset, b: VideoDataset, tasks: bool = True) -> None:
    assert (a.name, a.step_names, a.fps) == (b.name, b.step_names, b.fps)
    assert (a.task_names if tasks else []) == b.task_names
    # The OAD layout lists train videos before test videos: compare split by split.
    pairs = [(x, y) for subset in ("train", "test") for x, y in zip(a.split(subset), b.split(subset))]
    assert [x.video_id for x, _ in pairs] == [y.video_id for _, y in pairs]
    assert len(pairs) == len(a.videos) == len(b.videos)
    for x, y in pairs:
        assert np.array_equal(x.features, y.features) and x.features.dtype == np.float32
        assert (x.segments, x.subset) == (y.segments, y.subset)
        assert (x.task if tasks else None) == y.task


# ------------------------------------------------------------------ types

def test_frame_labels_and_properties():
    data = _dataset(tokens=3)
    labels = data.videos[0].frame_labels()
    assert labels.dtype == np.int64 and labels.shape == (20,)
    assert labels.tolist() == [0, 0, 1, 1, 1, 1, 3, 3, 3, 0, 0, 0] + [2] * 8
    assert (data.feature_dim, data.tokens_per_frame) == (5, 3)
    assert [v.video_id for v in data.split("test")] == ["c"]
    with pytest.raises(ValueError, match="'val'"):
        data.split("val")


# ------------------------------------------------------------------ round trips

def test_coin_round_trip(tmp_path):
    data = _dataset()
    write_coin(data, tmp_path / "coin")
    _assert_same(data, read_coin(tmp_path / "coin"))
    assert sorted(os.listdir(tmp_path)) == ["coin"]  # no temporary folder left behind


def test_coin_round_trip_without_tasks(tmp_path):
    data = _dataset(tasks=False)
    write_coin(data, tmp_path / "coin")
    _assert_same(data, read_coin(tmp_path / "coin"))


def test_oad_round_trip_drops_tasks(tmp_path):
    data = _dataset(tokens=1)
    write_oad(data, tmp_path / "oad", feature_dir="feats")
    info = json.loads((tmp_path / "oad" / "data_info.json").read_text())
    assert info["class_names"] == ["background"] + STEPS and info["num_classes"] == 4
    target = np.load(tmp_path / "oad" / "target_perframe" / "a.npy")
    assert target.shape == (20, 4) and target.argmax(1).tolist() == data.videos[0].frame_labels().tolist()
    _assert_same(data, read_oad(tmp_path / "oad", feature_dir="feats"), tasks=False)


def test_generated_round_trip_both_layouts(tmp_path):
    data = generate_benchmark(BenchmarkConfig(num_classes=12, num_tasks=4, steps_per_task=(3, 5),
                                              videos_per_task=3, feature_dim=8, fps=3.0))
    write_coin(data, tmp_path / "coin")
    _assert_same(data, read_coin(tmp_path / "coin"))
    write_oad(data, tmp_path / "oad")
    _assert_same(data, read_oad(tmp_path / "oad"), tasks=False)


def test_writer_replaces_existing_folder_and_fails_without_damage(tmp_path):
    good, root = _dataset(), tmp_path / "coin"
    write_coin(_dataset(tasks=False), root)
    write_coin(good, root)
    _assert_same(good, read_coin(root))
    bad = _dataset()
    bad.videos[2].features[4, 0, 1] = np.nan
    with pytest.raises(ValueError, match="video 'c'.*NaN"):
        write_coin(bad, root)
    _assert_same(good, read_coin(root))
    assert sorted(os.listdir(tmp_path)) == ["coin"]


def test_writers_refuse_what_the_layout_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="tokens_per_frame=2"):
        write_oad(_dataset(tokens=2), tmp_path / "oad")
    touching = _dataset(tokens=1)
    touching.videos[0].segments[1] = Segment(6, 9, 0)  # touches segment 0, same label
    with pytest.raises(ValueError, match="video 'a'.*merge"):
        write_oad(touching, tmp_path / "oad")
    overlapping = _dataset()
    overlapping.videos[1].segments.append(Segment(3, 6, 0))
    with pytest.raises(ValueError, match="video 'b'.*segment 1"):
        write_coin(overlapping, tmp_path / "coin")
    assert not (tmp_path / "oad").exists() and not (tmp_path / "coin").exists()


# ------------------------------------------------------------------ hand-written COIN files

def _write_coin_by_hand(root, database, features, meta=None):
    (root / "features").mkdir(parents=True)
    (root / "COIN.json").write_text(json.dumps({"database": database}))
    for vid, array in features.items():
        np.save(root / "features" / f"{vid}.npy", array)
    if meta is not None:
        (root / "meta.json").write_text(json.dumps(meta))


def _coin_entry(subset, task, annotation):
    return {"subset": subset, "recipe_type": 3, "class": task, "start": 0.0, "end": 9.0, "duration": 10.0,
            "annotation": annotation}


@pytest.fixture
def coin_root(tmp_path):
    root = tmp_path / "COIN"
    database = {
        "v1": _coin_entry("training", "make tea", [{"id": "52", "segment": [1.0, 3.5], "label": "boil water"},
                                                   {"segment": [4.0, 6.0], "label": "add tea bag"}]),
        "v2": _coin_entry("testing", "change tyre", [{"id": "7", "segment": [0.5, 2.0], "label": "jack car"}]),
    }
    features = {"v1": np.arange(14 * 3 * 4, dtype=np.float32).reshape(14, 3, 4),
                "v2": np.ones((6, 3, 4), dtype=np.float32)}
    _write_coin_by_hand(root, database, features)
    return root


def test_read_hand_written_coin_without_meta(coin_root):
    with pytest.raises(ValueError, match=r"no frame rate .*COIN/features/manifest.json.*meta.json; pass fps="):
        read_coin(coin_root)  # no manifest, no meta.json: no silent default rate
    data = read_coin(coin_root, fps=2.0)  # names sorted from the annotations
    assert data.step_names == ["add tea bag", "boil water", "jack car"]
    assert data.task_names == ["change tyre", "make tea"] and data.fps == 2.0 and data.name == "COIN"
    v1, v2 = data.videos
    assert (v1.video_id, v1.subset, v1.task) == ("v1", "train", 1)
    assert v1.segments == [Segment(2, 7, 1), Segment(8, 12, 0)]
    assert v1.features.shape == (14, 3, 4) and v1.features[13, 2, 3] == 14 * 12 - 1
    assert (v2.subset, v2.task, v2.segments) == ("test", 0, [Segment(1, 4, 2)])
    assert data.tokens_per_frame == 3


def test_read_coin_fps_argument_and_meta(coin_root):
    assert read_coin(coin_root, fps=1.0).videos[0].segments == [Segment(1, 4, 1), Segment(4, 6, 0)]
    meta = {"fps": 2.0, "step_names": ["jack car", "boil water", "add tea bag", "unused"],
            "task_names": ["make tea", "change tyre"], "name": "mine"}
    (coin_root / "meta.json").write_text(json.dumps(meta))
    data = read_coin(coin_root)  # the rate from meta.json
    assert data.step_names == meta["step_names"] and data.name == "mine"
    assert data.videos[0].segments[0].label == 1 and data.videos[0].task == 0
    with pytest.raises(ValueError, match=r"frame rates disagree: 2.0 from .*meta.json \(field 'fps'\) but "
                                         r"4.0 from fps=4.0 \(argument\)"):
        read_coin(coin_root, fps=4.0)


def _edit_coin(root, edit):
    path = root / "COIN.json"
    data = json.loads(path.read_text())
    edit(data["database"])
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("edit, match", [
    (lambda db: db["v1"].pop("subset"), r"COIN.json: database\['v1'\]: missing field 'subset'"),
    (lambda db: db["v2"].update(subset="validation"), r"database\['v2'\]: field 'subset' should be one of"),
    (lambda db: db["v1"].pop("annotation"), r"database\['v1'\]: missing field 'annotation'"),
    (lambda db: db["v1"]["annotation"][1].pop("label"), r"database\['v1'\]\.annotation\[1\]: missing field 'label'"),
    (lambda db: db["v1"]["annotation"][0].update(segment=[1.0]), r"annotation\[0\]: field 'segment' should be"),
    (lambda db: db["v2"]["annotation"][0].update(segment=[2.0, 3.5]), r"database\['v2'\].*outside the video's 6 frames"),
    (lambda db: db["v2"]["annotation"][0].update(segment=[2.0, 2.0]), r"database\['v2'\].*end 4 <= start 4"),
    (lambda db: db["v1"]["annotation"][1].update(segment=[3.0, 6.0]), r"database\['v1'\].*before the previous"),
    (lambda db: db["v2"].pop("class"), r"database\['v2'\]: missing field 'class'"),
    (lambda db: db["v2"].update(subset="training"), r"COIN.json: the 'test' split is empty"),
])
def test_read_coin_bad_annotations(coin_root, edit, match):
    _edit_coin(coin_root, edit)
    with pytest.raises(ValueError, match=match):
        read_coin(coin_root, fps=2.0)


def test_read_coin_label_not_in_meta(coin_root):
    meta = {"fps": 2.0, "step_names": ["boil water", "add tea bag"], "task_names": ["make tea", "change tyre"]}
    (coin_root / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"database\['v2'\]\.annotation\[0\]: label 'jack car' is not in step_names"):
        read_coin(coin_root, fps=2.0)
    meta.update(step_names=STEPS + ["boil water", "add tea bag", "jack car"], task_names=["make tea"])
    (coin_root / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"database\['v2'\]: field 'class' 'change tyre' is not in task_names"):
        read_coin(coin_root, fps=2.0)
    meta.update(task_names=["make tea", "change tyre", "make tea"])
    (coin_root / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"meta.json: field 'task_names' has duplicate names \['make tea'\]"):
        read_coin(coin_root, fps=2.0)
    (coin_root / "meta.json").write_text(json.dumps({"step_names": [], "task_names": []}))
    with pytest.raises(ValueError, match="meta.json: missing field 'fps'"):
        read_coin(coin_root, fps=2.0)


def test_read_coin_bad_files(coin_root):
    with pytest.raises(FileNotFoundError, match="COIN.json"):
        read_coin(coin_root.parent, fps=2.0)
    (coin_root / "COIN.json").write_text('{\n "database": {\n  "v1": ,\n }\n}')
    with pytest.raises(ValueError, match="COIN.json: malformed JSON at line 3"):
        read_coin(coin_root, fps=2.0)
    (coin_root / "COIN.json").write_text(json.dumps({"database": {}}))
    with pytest.raises(ValueError, match="COIN.json: the 'train' split is empty"):
        read_coin(coin_root, fps=2.0)
    (coin_root / "COIN.json").write_text(json.dumps({"videos": {}}))
    with pytest.raises(ValueError, match="COIN.json: missing field 'database'"):
        read_coin(coin_root, fps=2.0)


@pytest.mark.parametrize("array, match, error", [
    (None, r"features/v2.npy: feature \(video 'v2' listed in .*COIN.json\) file not found", FileNotFoundError),
    (np.ones((6, 2, 4), np.float32), r"features/v2.npy: features have \[tokens, D\] = \[2, 4\], but .*v1.npy has \[3, 4\]", ValueError),
    (np.ones((6, 3, 5), np.float32), r"features/v2.npy: features have \[tokens, D\] = \[3, 5\]", ValueError),
    (np.full((6, 3, 4), np.inf, np.float32), r"features/v2.npy: features contain NaN or inf \(first at frame 0\)", ValueError),
    (np.ones((6,), np.float32), r"features/v2.npy: features should be \[T, D\] or \[T, tokens, D\]", ValueError),
    (np.ones((3, 3, 4), np.float32), r"database\['v2'\].*3 frames in .*v2.npy.*outside the video's 3 frames", ValueError),
])
def test_read_coin_bad_features(coin_root, array, match, error):
    path = coin_root / "features" / "v2.npy"
    path.unlink()
    if array is not None:
        np.save(path, array)
    with pytest.raises(error, match=match):
        read_coin(coin_root, fps=2.0)


def test_read_coin_corrupt_npy(coin_root):
    (coin_root / "features" / "v1.npy").write_bytes(b"not an array")
    with pytest.raises(ValueError, match="v1.npy: cannot read feature"):
        read_coin(coin_root, fps=2.0)


# ------------------------------------------------------------------ hand-written OAD files

def _write_oad_by_hand(root, info, videos, feature_dir="rgb_features"):
    (root / feature_dir).mkdir(parents=True)
    (root / "target_perframe").mkdir()
    (root / "data_info.json").write_text(json.dumps(info))
    for vid, (features, labels) in videos.items():
        np.save(root / feature_dir / f"{vid}.npy", features)
        np.save(root / "target_perframe" / f"{vid}.npy", np.eye(len(info.get("class_names", [0] * 4)))[labels])


@pytest.fixture
def oad_root(tmp_path):
    root = tmp_path / "thumos"
    info = {"class_names": ["Background", "BaseballPitch", "Diving", "HighJump"], "num_classes": 4,
            "fps": 4.0, "train_session_set": ["video_validation_1"], "test_session_set": ["video_test_1"]}
    videos = {"video_validation_1": (np.arange(10 * 6, dtype=np.float32).reshape(10, 6),
                                     [0, 2, 2, 2, 0, 0, 3, 3, 1, 1]),
              "video_test_1": (np.zeros((5, 6), np.float32), [1, 1, 1, 1, 1])}
    _write_oad_by_hand(root, info, videos)
    return root


def test_read_hand_written_oad(oad_root):
    data = read_oad(oad_root)
    assert data.step_names == ["BaseballPitch", "Diving", "HighJump"] and data.task_names == []
    assert (data.fps, data.name, data.tokens_per_frame, data.feature_dim) == (4.0, "thumos", 1, 6)
    v, w = data.videos
    assert (v.video_id, v.subset, v.task) == ("video_validation_1", "train", None)
    assert v.segments == [Segment(1, 4, 1), Segment(6, 8, 2), Segment(8, 10, 0)]
    assert v.features.shape == (10, 1, 6) and v.features[9, 0, 5] == 59
    assert (w.subset, w.segments) == ("test", [Segment(0, 5, 0)])


def test_read_oad_nested_data_info(oad_root):
    info = json.loads((oad_root / "data_info.json").read_text())
    (oad_root / "data_info.json").write_text(json.dumps({"THUMOS": info, "TVSeries": {"class_names": []}}))
    data = read_oad(oad_root, name="THUMOS")
    assert data.name == "THUMOS" and len(data.videos) == 2
    with pytest.raises(ValueError, match="no data set entry 'EK100'"):
        read_oad(oad_root, name="EK100")


def _edit_info(root, **changes):
    info = json.loads((root / "data_info.json").read_text())
    info.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del info[key]
    (root / "data_info.json").write_text(json.dumps(info))


@pytest.mark.parametrize("changes, match", [
    ({"num_classes": 5}, "data_info.json: field 'num_classes' is 5 but 'class_names' has 4"),
    ({"fps": None}, "data_info.json: missing field 'fps'"),
    ({"fps": "4"}, "data_info.json: field 'fps' should be a number"),
    ({"train_session_set": []}, "data_info.json: field 'train_session_set' is empty"),
    ({"test_session_set": ["video_validation_1"]}, "in both train_session_set and test_session_set"),
    ({"test_session_set": ["video_test_1", "video_test_2"]},
     r"rgb_features/video_test_2.npy: feature \(video 'video_test_2' listed in .*data_info.json\) file not found"),
])
def test_read_oad_bad_data_info(oad_root, changes, match):
    _edit_info(oad_root, **changes)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        read_oad(oad_root)


def test_read_oad_bad_files(oad_root):
    (oad_root / "data_info.json").write_text('{"class_names": ["bg", "a"],\n "num_classes": 2\n "fps": 1}')
    with pytest.raises(ValueError, match="data_info.json: malformed JSON at line 3"):
        read_oad(oad_root)
    (oad_root / "data_info.json").unlink()
    with pytest.raises(FileNotFoundError, match="data_info.json"):
        read_oad(oad_root)


@pytest.mark.parametrize("target, match, error", [
    (None, r"target_perframe/video_test_1.npy: target \(video 'video_test_1' .*\) file not found", FileNotFoundError),
    (np.eye(4)[[1, 1, 1, 1]], r"target_perframe/video_test_1.npy: target should be \[T, C\] = \[5, 4\].*\(4, 4\)", ValueError),
    (np.eye(3)[[1, 1, 1, 1, 1]], r"video_test_1.npy: target should be \[T, C\] = \[5, 4\]", ValueError),
    # Multi-hot and soft rows are read (tests/test_readers_real.py); out-of-range or empty rows are not.
    (np.array([[0, 1, 0, 0]] * 3 + [[0, 2, 0, 0], [0, 1, 0, 0]]),
     r"video_test_1.npy: row 3, column 1 \('BaseballPitch'\) is 2.0; targets should be 0/1", ValueError),
    (np.array([[0, 1, 0, 0]] * 4 + [[0, np.nan, 0, 0]]), r"video_test_1.npy: row 4, column 1 .* is nan", ValueError),
    (np.array([[0, 1, 0, 0]] * 2 + [[0, 0, 0, 0]] * 3), r"video_test_1.npy: row 2 has no class set", ValueError),
])
def test_read_oad_bad_targets(oad_root, target, match, error):
    path = oad_root / "target_perframe" / "video_test_1.npy"
    path.unlink()
    if target is not None:
        np.save(path, target)
    with pytest.raises(error, match=match):
        read_oad(oad_root)


@pytest.mark.parametrize("features, match", [
    (np.ones((5, 2, 6), np.float32), r"rgb_features/video_test_1.npy: OAD features should be \[T, D\]"),
    (np.ones((5, 7), np.float32), r"rgb_features/video_test_1.npy: features have \[tokens, D\] = \[1, 7\]"),
    (np.full((5, 6), np.nan, np.float32), r"rgb_features/video_test_1.npy: features contain NaN"),
    (np.ones((6, 6), np.float32), r"video_test_1.npy: target should be \[T, C\] = \[6, 4\] \(T from the features"),
])
def test_read_oad_bad_features(oad_root, features, match):
    np.save(oad_root / "rgb_features" / "video_test_1.npy", features)
    with pytest.raises(ValueError, match=match):
        read_oad(oad_root)


# ------------------------------------------------------------------ ensure_benchmark

SMALL = dict(num_classes=12, num_tasks=4, steps_per_task=(3, 5), videos_per_task=4)


def test_ensure_benchmark_generates_once_and_reads_back(tmp_path, monkeypatch):
    data = ensure_benchmark("coin_like", root=tmp_path, **SMALL)
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("coin_like-cpu-")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["num_classes"] == 12 and "COIN.json" in manifest["files"]
    assert len(manifest["files"]) == 2 + len(data.videos)
    _assert_same(generate_benchmark(BenchmarkConfig(**manifest["config"])), data)
    with monkeypatch.context() as m:
        m.setattr("gadlib.data.benchmark.generate_benchmark", None)  # a second generation would fail
        again = ensure_benchmark("coin_like", root=tmp_path, **SMALL)
    _assert_same(data, again)
    other = ensure_benchmark("coin_like", root=tmp_path, **{**SMALL, "seed": 1})
    assert len(list(tmp_path.iterdir())) == 2 and other.step_names != data.step_names


def test_ensure_benchmark_is_byte_identical_across_runs(tmp_path):
    ensure_benchmark("thumos_like", root=tmp_path / "one", videos_per_task=2)
    ensure_benchmark("thumos_like", root=tmp_path / "two", videos_per_task=2)
    (a,), (b,) = (tmp_path / "one").iterdir(), (tmp_path / "two").iterdir()
    assert a.name == b.name
    files = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


@pytest.mark.parametrize("damage", ["corrupt", "delete_file", "delete_manifest", "extra_file"])
def test_ensure_benchmark_regenerates_damaged_data(tmp_path, damage):
    original = ensure_benchmark("coin_like", root=tmp_path, **SMALL)
    (folder,) = tmp_path.iterdir()
    feature = folder / "features" / f"{original.videos[0].video_id}.npy"
    good_bytes = feature.read_bytes()
    if damage == "corrupt":
        np.save(feature, np.zeros_like(original.videos[0].features))
    elif damage == "delete_file":
        feature.unlink()
    elif damage == "delete_manifest":
        (folder / "manifest.json").unlink()
    else:
        (folder / "features" / "stray.npy").write_bytes(b"")
    restored = ensure_benchmark("coin_like", root=tmp_path, **SMALL)
    assert feature.read_bytes() == good_bytes
    assert not (folder / "features" / "stray.npy").exists()
    _assert_same(original, restored)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary folders left


def test_ensure_benchmark_oad_layout_and_config_object(tmp_path):
    data = ensure_benchmark("epic_like", root=tmp_path, num_classes=30, num_tasks=5, steps_per_task=(6, 8),
                            videos_per_task=2)
    assert data.task_names == [] and all(v.task is None for v in data.videos)
    assert (tmp_path / next(tmp_path.iterdir()).name / "data_info.json").is_file()
    config = BenchmarkConfig(name="mine", **SMALL)
    as_oad = ensure_benchmark(config, layout="oad", root=tmp_path)
    assert as_oad.task_names == [] and as_oad.name == "mine"
    assert any(p.name.startswith("mine-") for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match="layout"):
        ensure_benchmark(config, layout="hdf5", root=tmp_path)


# ------------------------------------------------------------------ writers keep the user's files

def _bytes_of(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("layout", ["oad", "coin"])
def test_foreign_files_survive_a_write_and_a_rewrite(tmp_path, layout):
    root = tmp_path / "mine"
    (root / "raw_annotations").mkdir(parents=True)
    (root / "raw_annotations" / "notes.csv").write_text("video,comment\na,blurry\n")
    (root / "manifest.json").write_text('{"mine": true}')
    features = "rgb_features" if layout == "oad" else "features"
    (root / features).mkdir()
    (root / features / "README.txt").write_text("not an array")  # not a <video>.npy: not the layout's
    foreign = _bytes_of(root)
    write, read = (write_oad, read_oad) if layout == "oad" else (write_coin, read_coin)
    data = _dataset(tokens=1)
    assert write(data, root) == []
    _assert_same(data, read(root), tasks=layout == "coin")
    # Rewrite without video "c": gadlib's own files of "c" go, nothing else does.
    smaller = _dataset(tokens=1)
    smaller.videos[1].subset = "test"
    del smaller.videos[2]
    removed = write(smaller, root)
    expected = ["features/c.npy"] if layout == "coin" else ["rgb_features/c.npy", "target_perframe/c.npy"]
    assert removed == expected
    _assert_same(smaller, read(root), tasks=layout == "coin")
    after = _bytes_of(root)
    assert {k: after[k] for k in foreign} == foreign
    assert not any(".tmp-" in name for name in after)  # no temporary file left behind


def test_a_stale_or_foreign_file_stops_the_writer_before_it_writes(tmp_path):
    root = tmp_path / "oad"
    (root / "target_perframe").mkdir(parents=True)
    np.save(root / "target_perframe" / "old_video.npy", np.zeros((3, 4)))  # from another data set
    with pytest.raises(ForeignFileError, match=r"1 stale file.*did not write.*target_perframe/old_video\.npy"):
        write_oad(_dataset(tokens=1), root)
    assert sorted(p.name for p in root.rglob("*")) == ["old_video.npy", "target_perframe"]  # nothing written
    (root / "target_perframe" / "old_video.npy").unlink()
    (root / "data_info.json").write_text('{"THUMOS": {}}')  # e.g. TeSTra's file
    with pytest.raises(ForeignFileError, match=r"overwrite 1 file.*oad/data_info\.json"):
        write_oad(_dataset(tokens=1), root)
    assert (root / "data_info.json").read_text() == '{"THUMOS": {}}'


def test_a_file_changed_since_gadlib_wrote_it_is_not_overwritten(tmp_path):
    root = tmp_path / "coin"
    write_coin(_dataset(), root)
    (root / "meta.json").write_text((root / "meta.json").read_text() + "\n")  # edited by hand
    with pytest.raises(ForeignFileError, match=r"coin/meta\.json"):
        write_coin(_dataset(), root)
    assert (root / "meta.json").read_text().endswith("\n\n")
    assert (root / "COIN.json").is_file()  # nothing was written or deleted


def test_an_interrupted_write_leaves_no_index_and_can_be_run_again(tmp_path, monkeypatch):
    root, data = tmp_path / "oad", _dataset(tokens=1)
    write_oad(data, root)
    calls = []

    def crash_on_third(path, array):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real_save(path, array)

    real_save = layout_io.save_npy
    monkeypatch.setattr(oad_layout, "save_npy", crash_on_third)
    with pytest.raises(OSError, match="disk full"):
        write_oad(data, root)
    # The old data_info.json went first: a half-written folder is refused, never misread.
    with pytest.raises(FileNotFoundError, match="data_info.json"):
        read_oad(root)
    monkeypatch.setattr(oad_layout, "save_npy", real_save)
    write_oad(data, root)  # the interrupted files were recorded as gadlib's: no refusal
    _assert_same(data, read_oad(root), tasks=False)
    assert not (root / ".gadlib-written.journal").exists()  # a finished write leaves only the record


def test_after_an_interrupted_write_a_file_put_back_by_hand_is_not_gadlibs(tmp_path, monkeypatch):
    """The interrupted write deleted data_info.json first; the user puts their own copy back. The
    next write must refuse it, not take it for the file it was about to write."""
    root, data = tmp_path / "oad", _dataset(tokens=1)
    write_oad(data, root)
    calls = []

    def crash_on_first(path, array):
        calls.append(path)
        raise OSError("disk full")

    monkeypatch.setattr(oad_layout, "save_npy", crash_on_first)
    with pytest.raises(OSError, match="disk full"):
        write_oad(data, root)
    (root / "data_info.json").write_text('{"THUMOS": {}}')  # the user's own file, back in place
    monkeypatch.undo()
    with pytest.raises(ForeignFileError, match=r"data_info\.json"):
        write_oad(data, root)
    assert (root / "data_info.json").read_text() == '{"THUMOS": {}}'


# ------------------------------------------------------------------ frame rates: no default, no disagreement

def _features_manifest(folder, fps):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"settings": {"encoder": "e", "fps": fps, "layout": "coin"},
                                                      "videos": {}, "failed": {}}))


def test_coin_fps_comes_from_the_extraction_manifest(coin_root):
    database = json.loads((coin_root / "COIN.json").read_text())
    database["database"]["v1"]["annotation"] = [{"segment": [2.0, 9.0], "label": "boil water"}]
    database["database"]["v2"]["annotation"] = [{"segment": [0.5, 1.0], "label": "jack car"}]
    (coin_root / "COIN.json").write_text(json.dumps(database))
    np.save(coin_root / "features" / "v1.npy", np.ones((40, 3, 4), np.float32))
    _features_manifest(coin_root / "features", 4)
    data = read_coin(coin_root)  # features from `python -m gadlib.features --fps 4`
    assert data.fps == 4.0
    assert data.videos[0].segments == [Segment(8, 36, 0)]  # 2 s x 4 = frame 8, 9 s x 4 = 36
    assert data.videos[1].segments == [Segment(2, 4, 1)]
    assert read_coin(coin_root, fps=4).fps == 4.0
    with pytest.raises(ValueError, match=r"frame rates disagree: 4.0 from .*features/manifest.json "
                                         r"\(settings.fps\) but 2.0 from fps=2.0"):
        read_coin(coin_root, fps=2.0)
    (coin_root / "meta.json").write_text(json.dumps({"fps": 2.0, "step_names": ["boil water", "jack car"],
                                                     "task_names": ["change tyre", "make tea"]}))
    with pytest.raises(ValueError, match=r"4.0 from .*manifest.json \(settings.fps\) but 2.0 from .*meta.json"):
        read_coin(coin_root)
    # A manifest.json that is not gadlib's extraction manifest (no settings) says nothing about fps.
    (coin_root / "features" / "manifest.json").write_text('{"release": "v2"}')
    assert read_coin(coin_root).fps == 2.0
    (coin_root / "features" / "manifest.json").write_text('{"settings": {"encoder": "e"}}')
    with pytest.raises(ValueError, match=r"manifest.json: settings: missing field 'fps'"):
        read_coin(coin_root)


def test_read_oad_checks_data_info_fps_against_the_extraction_manifest(tmp_path):
    root = tmp_path / "oad"
    write_oad(_dataset(tokens=1), root)  # data_info.json: fps 2.0
    _features_manifest(root / "rgb_features", 4)
    with pytest.raises(ValueError, match=r"data_info.json: field 'fps' is 2.0, but the features were extracted "
                                         r"at 4.0 fps according to .*rgb_features/manifest.json"):
        read_oad(root)
    _features_manifest(root / "rgb_features", 2)
    assert read_oad(root).fps == 2.0
