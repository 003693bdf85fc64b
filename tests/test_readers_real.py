"""read_oad / write_oad on folders shaped like the ones the MAT/TeSTra community ships.

Every file here is written by hand the way the real THUMOS'14 / EPIC-Kitchens-100 releases are
(NOT with write_oad): a data_info.json holding several data sets, 22 THUMOS class names with
"Background" first and "Ambiguous" as ignore_index 21, float multi-hot targets where CliffDiving
frames are Diving too, RGB and optical-flow features in two folders of different widths, and a
val_session_set. Expected labels are worked out by hand from the rules in read_oad's docstring.
"""

import json
import warnings

import numpy as np
import pytest

from gadlib.data import datasets, layout_io
from gadlib.data.coin_layout import CoinReadReport, read_coin
from gadlib.data.videos import ConcatenatedFeatures, OADInfo, Segment
from gadlib.data.datasets import read_oad, write_oad
from gadlib.evaluation.oad import oad_samples

THUMOS_CLASSES = ["Background", "BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving",
                  "CricketBowling", "CricketShot", "Diving", "FrisbeeCatch", "GolfSwing", "HammerThrow",
                  "HighJump", "JavelinThrow", "LongJump", "PoleVault", "Shotput", "SoccerPenalty",
                  "TennisSwing", "ThrowDiscus", "VolleyballSpiking", "Ambiguous"]
BG, PITCH, CLIFF, DIVING, AMBIGUOUS = 0, 1, 5, 8, 21
RGB, FLOW = "rgb_kinetics_resnet50", "flow_kinetics_bninception"


def _rows(*columns_per_frame, num_classes=22):
    """A float32 [T, C] target: frame t has 1.0 in every column of columns_per_frame[t]."""
    target = np.zeros((len(columns_per_frame), num_classes), dtype=np.float32)
    for t, columns in enumerate(columns_per_frame):
        target[t, list(columns)] = 1.0
    return target


# Frame by frame: what is set, and what read_oad must make of it.
MAIN_TARGET = _rows(
    [BG], [BG],                 # 0-1  background
    [CLIFF, DIVING], [CLIFF, DIVING], [CLIFF, DIVING],  # 2-4  multi-hot: lowest column wins -> CliffDiving
    [AMBIGUOUS],                # 5    only the ignore class -> ignored, background in frame_labels
    [DIVING], [DIVING],         # 6-7  Diving
    [AMBIGUOUS, DIVING],        # 8    ignore column set -> ignored whatever else is set
    [BG, PITCH],                # 9    background counts only when no action is set -> BaseballPitch
    [BG], [BG],                 # 10-11
)
MAIN_LABELS = [0, 0, CLIFF, CLIFF, CLIFF, 0, DIVING, DIVING, 0, PITCH, 0, 0]  # step + 1 = column here
MAIN_IGNORED = [5, 8]


def _features(seed, frames, dim):
    return np.random.default_rng(seed).standard_normal((frames, dim)).astype(np.float32)


def _thumos_entry(**changes):
    entry = {"data_root": "data/THUMOS", "class_names": THUMOS_CLASSES, "num_classes": 22, "ignore_index": 21,
             "metrics": "AP", "fps": 4,
             "train_session_set": ["video_validation_0000051", "video_validation_0000052"],
             "val_session_set": ["video_validation_0000053"],
             "test_session_set": ["video_test_0000004"]}
    entry.update(changes)
    return entry


def _tvseries_entry():
    return {"data_root": "data/TVSeries", "class_names": ["Background", "Pick something up", "Point"],
            "num_classes": 3, "ignore_index": -100, "metrics": "cAP", "fps": 4,
            "train_session_set": ["24_ep1"], "test_session_set": ["24_ep4"]}


def _write_info(root, info):
    (root / "data_info.json").write_text(json.dumps(info))


@pytest.fixture
def thumos(tmp_path):
    """A THUMOS'14-style root as TeSTra lays it out, with four videos."""
    root = tmp_path / "THUMOS"
    for folder in (RGB, FLOW, "target_perframe"):
        (root / folder).mkdir(parents=True)
    _write_info(root, {"TVSeries": _tvseries_entry(), "THUMOS": _thumos_entry()})
    targets = {"video_validation_0000051": MAIN_TARGET,
               "video_validation_0000052": _rows([BG], [DIVING], [DIVING], [BG], [BG]),
               "video_validation_0000053": _rows([BG], [PITCH], [PITCH], [BG]),
               "video_test_0000004": _rows([BG], [BG], [CLIFF, DIVING], [CLIFF, DIVING], [BG], [AMBIGUOUS])}
    for i, (vid, target) in enumerate(targets.items()):
        np.save(root / RGB / f"{vid}.npy", _features(i, len(target), 8))
        np.save(root / FLOW / f"{vid}.npy", _features(100 + i, len(target), 4))
        np.save(root / "target_perframe" / f"{vid}.npy", target)
    return root


# ------------------------------------------------------------------ THUMOS'14 rules

def test_thumos_ignore_index_multi_hot_val_and_two_feature_folders(thumos):
    data = read_oad(thumos, feature_dir=[RGB, FLOW], name="THUMOS")
    assert data.name == "THUMOS" and data.fps == 4.0 and data.task_names == []
    assert data.step_names == THUMOS_CLASSES[1:21] and "Ambiguous" not in data.step_names
    assert (data.tokens_per_frame, data.feature_dim) == (1, 12)
    assert [(v.video_id, v.subset) for v in data.videos] == [
        ("video_validation_0000051", "train"), ("video_validation_0000052", "train"),
        ("video_validation_0000053", "val"), ("video_test_0000004", "test")]
    assert [v.video_id for v in data.split("val")] == ["video_validation_0000053"]

    main = data.videos[0]
    assert main.frame_labels().tolist() == MAIN_LABELS
    assert np.flatnonzero(main.ignored_mask()).tolist() == MAIN_IGNORED
    cliff, diving, pitch = (data.step_names.index(n) for n in ("CliffDiving", "Diving", "BaseballPitch"))
    assert main.segments == [Segment(2, 5, cliff), Segment(6, 8, diving), Segment(9, 10, pitch)]
    expected = np.concatenate([np.load(thumos / RGB / "video_validation_0000051.npy"),
                               np.load(thumos / FLOW / "video_validation_0000051.npy")], axis=1)
    assert main.features.dtype == np.float32 and np.array_equal(main.features[:, 0, :], expected)
    # A video without ignored frames has no mask; the ignored class never becomes a segment.
    assert data.videos[1].ignored is None and not data.videos[1].ignored_mask().any()
    test = data.videos[3]
    assert test.segments == [Segment(2, 4, cliff)] and test.ignored_mask().tolist() == [0] * 5 + [1]

    info = data.oad_info
    assert (info.class_names, info.ignore_index, info.key) == (THUMOS_CLASSES, 21, "THUMOS")
    assert info.extra == {"data_root": "data/THUMOS", "metrics": "AP"}


def test_several_data_sets_need_a_name(thumos):
    with pytest.raises(ValueError, match=r"data_info.json: holds several data sets \['THUMOS', 'TVSeries'\]; "
                                         r"pass name="):
        read_oad(thumos, feature_dir=[RGB, FLOW])
    with pytest.raises(ValueError, match=r"no data set entry 'EK100' among \['THUMOS', 'TVSeries'\]"):
        read_oad(thumos, feature_dir=RGB, name="EK100")
    _write_info(thumos, {"THUMOS": _thumos_entry()})  # a single entry is picked without a name
    assert read_oad(thumos, feature_dir=RGB).name == "THUMOS"


def test_data_info_saved_with_a_byte_order_mark(thumos):
    """A data_info.json fixed in Notepad (or written by PowerShell 5) starts with a UTF-8 BOM."""
    plain = read_oad(thumos, feature_dir=RGB, name="THUMOS")
    info = thumos / "data_info.json"
    info.write_bytes(b"\xef\xbb\xbf" + info.read_bytes().replace(b"\n", b"\r\n"))
    saved = read_oad(thumos, feature_dir=RGB, name="THUMOS")
    assert saved.oad_info == plain.oad_info and [v.video_id for v in saved.videos] == [v.video_id for v in plain.videos]


@pytest.mark.parametrize("values, label", [
    ({CLIFF: 0.3, DIVING: 0.7}, DIVING),  # soft targets: the largest value wins
    ({CLIFF: 0.5, DIVING: 0.5}, CLIFF),  # a tie goes to the lowest column
    ({BG: 0.9, PITCH: 0.1}, PITCH),  # any action beats background
    ({BG: 0.6}, 0),
])
def test_soft_targets(thumos, values, label):
    target = MAIN_TARGET.copy()
    target[0] = 0
    target[0, list(values)] = list(values.values())
    np.save(thumos / "target_perframe" / "video_validation_0000051.npy", target)
    data = read_oad(thumos, feature_dir=RGB, name="THUMOS")
    assert data.videos[0].frame_labels()[0] == label


@pytest.mark.parametrize("empty_rows, label, ignored", [("background", 0, False), ("ignore", 0, True)])
def test_all_zero_rows(thumos, empty_rows, label, ignored):
    target = MAIN_TARGET.copy()
    target[10] = 0
    path = thumos / "target_perframe" / "video_validation_0000051.npy"
    np.save(path, target)
    with pytest.raises(ValueError, match=r"video_validation_0000051.npy: row 10 has no class set"):
        read_oad(thumos, feature_dir=RGB, name="THUMOS")
    video = read_oad(thumos, feature_dir=RGB, name="THUMOS", empty_rows=empty_rows).videos[0]
    assert video.frame_labels()[10] == label and video.ignored_mask()[10] == ignored
    with pytest.raises(ValueError, match="empty_rows should be one of"):
        read_oad(thumos, feature_dir=RGB, name="THUMOS", empty_rows="skip")


def test_target_values_are_checked_in_every_block(thumos, monkeypatch):
    monkeypatch.setattr(layout_io, "CHUNK_BYTES", 8 * 22 * 3)  # three rows per block
    target = MAIN_TARGET.copy()
    target[7, 3] = -1.0
    np.save(thumos / "target_perframe" / "video_validation_0000051.npy", target)
    with pytest.raises(ValueError, match=r"row 7, column 3 \('Billiards'\) is -1.0"):
        read_oad(thumos, feature_dir=RGB, name="THUMOS")


def test_non_numeric_target(thumos):
    np.save(thumos / "target_perframe" / "video_test_0000004.npy", np.full((6, 22), "x"))
    with pytest.raises(ValueError, match=r"video_test_0000004.npy: target should be numeric"):
        read_oad(thumos, feature_dir=RGB, name="THUMOS")


# ------------------------------------------------------------------ data_info.json errors

@pytest.mark.parametrize("changes, match", [
    ({"ignore_index": 22}, r"\['THUMOS'\]: field 'ignore_index' is 22, not a column of the 22 classes"),
    ({"ignore_index": "21"}, r"\['THUMOS'\]: field 'ignore_index' should be a integer"),
    ({"val_session_set": ["video_test_0000004"]},
     r"videos \['video_test_0000004'\] are in both val_session_set and test_session_set"),
    ({"train_session_set": ["video_validation_0000051"] * 2},
     r"field 'train_session_set' lists videos \['video_validation_0000051'\] more than once"),
    ({"val_session_set": "video_validation_0000053"}, r"field 'val_session_set' should be a list"),
    ({"class_names": ["Background", "Ambiguous"], "num_classes": 2, "ignore_index": 1},
     r"field 'class_names' has no action class besides background and the ignored class 1"),
])
def test_bad_data_info(thumos, changes, match):
    _write_info(thumos, {"THUMOS": _thumos_entry(**changes)})
    with pytest.raises(ValueError, match=match):
        read_oad(thumos, feature_dir=RGB)


def test_empty_val_session_set_is_allowed(thumos):
    _write_info(thumos, {"THUMOS": _thumos_entry(val_session_set=[])})
    data = read_oad(thumos, feature_dir=RGB)
    assert {v.subset for v in data.videos} == {"train", "test"}


# ------------------------------------------------------------------ several feature folders

def test_feature_folders_must_agree_on_frames(thumos):
    np.save(thumos / FLOW / "video_validation_0000052.npy", _features(0, 4, 4))
    with pytest.raises(ValueError, match=rf"{FLOW}/video_validation_0000052.npy has 4 frames but "
                                         rf".*{RGB}/video_validation_0000052.npy has 5"):
        read_oad(thumos, feature_dir=[RGB, FLOW], name="THUMOS")


def test_feature_width_is_checked_per_folder(thumos):
    np.save(thumos / FLOW / "video_test_0000004.npy", _features(0, 6, 5))
    with pytest.raises(ValueError, match=rf"{FLOW}/video_test_0000004.npy: features have \[tokens, D\] = "
                                         rf"\[1, 5\], but .*{FLOW}/video_validation_0000051.npy has \[1, 4\]"):
        read_oad(thumos, feature_dir=[RGB, FLOW], name="THUMOS")
    with pytest.raises(FileNotFoundError, match=rf"missing/video_validation_0000051.npy: feature"):
        read_oad(thumos, feature_dir=[RGB, "missing"], name="THUMOS")
    with pytest.raises(ValueError, match="feature_dir is an empty list"):
        read_oad(thumos, feature_dir=[], name="THUMOS")


@pytest.mark.parametrize("mmap", [False, True])
def test_nan_is_found_in_a_late_block(thumos, monkeypatch, mmap):
    monkeypatch.setattr(layout_io, "CHUNK_BYTES", 4 * 4 * 2)  # two flow rows per block
    flow = _features(100, 12, 4)
    flow[9, 2] = np.inf
    np.save(thumos / FLOW / "video_validation_0000051.npy", flow)
    with pytest.raises(ValueError, match=rf"{FLOW}/video_validation_0000051.npy: features contain NaN or inf "
                                         rf"\(first at frame 9\)"):
        read_oad(thumos, feature_dir=[RGB, FLOW], name="THUMOS", mmap=mmap)


def test_mmap_gives_the_same_data_without_loading_it(thumos):
    eager = read_oad(thumos, feature_dir=[RGB, FLOW], name="THUMOS")
    lazy = read_oad(thumos, feature_dir=[RGB, FLOW], name="THUMOS", mmap=True)
    for a, b in zip(eager.videos, lazy.videos):
        assert isinstance(b.features, ConcatenatedFeatures)
        assert all(isinstance(p, np.memmap) for p in b.features.parts)
        assert b.features.shape == a.features.shape and len(b.features) == len(a.features)
        assert np.array_equal(np.asarray(b.features), a.features)
        assert (b.segments, b.subset) == (a.segments, a.subset)
        assert np.array_equal(b.ignored_mask(), a.ignored_mask())
    # The sample builders index features by frame and get the same tokens.
    samples = [oad_samples(data, "train", window=3, stride=2) for data in (eager, lazy)]
    for x, y in zip(*samples):
        assert np.array_equal(x.visual, y.visual) and y.visual.dtype == np.float32
    one = read_oad(thumos, feature_dir=RGB, name="THUMOS", mmap=True).videos[0].features
    assert isinstance(one, np.memmap) and one.shape == (12, 1, 8)  # float32 on disk: the map itself


def test_mmap_converts_other_dtypes_on_access(thumos):
    rgb = _features(0, 12, 8).astype(np.float16)
    np.save(thumos / RGB / "video_validation_0000051.npy", rgb)
    features = read_oad(thumos, feature_dir=RGB, name="THUMOS", mmap=True).videos[0].features
    assert isinstance(features, ConcatenatedFeatures)
    assert features[3].dtype == np.float32 and np.array_equal(features[3, 0], rgb[3].astype(np.float32))


def test_concatenated_features_index_like_the_array():
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal((7, 3)), rng.standard_normal((7, 2)).astype(np.float32)]
    view, array = ConcatenatedFeatures(parts), np.concatenate(parts, axis=1).astype(np.float32)[:, None, :]
    assert (view.shape, view.ndim, len(view), view.dtype) == ((7, 1, 5), 3, 7, np.float32)
    for key in (4, -1, slice(2, 5), np.array([0, 0, 6]), (np.array([1, 2]), 0), (slice(None), 0, slice(1, 4)),
                (3, 0, 4)):
        assert np.array_equal(view[key], array[key]), key
    assert np.array_equal(np.asarray(view), array)
    with pytest.raises(ValueError, match="one T"):
        ConcatenatedFeatures([np.zeros((3, 2)), np.zeros((4, 2))])


# ------------------------------------------------------------------ EPIC-Kitchens-100-style flat file

EK_CLASSES = ["Background", "take plate", "put plate", "open fridge"]


@pytest.fixture
def ek100(tmp_path):
    """A flat (single data set) data_info.json as for EPIC-Kitchens-100 in TeSTra: ignore_index 0."""
    root = tmp_path / "EK100"
    rgb, flow = "rgb_kinetics_bninception", "flow_kinetics_bninception"
    for folder in (rgb, flow, "target_perframe"):
        (root / folder).mkdir(parents=True)
    _write_info(root, {"class_names": EK_CLASSES, "num_classes": 4, "ignore_index": 0, "metrics": "AP", "fps": 4,
                       "train_session_set": ["P01_01"], "test_session_set": ["P01_11"]})
    targets = {"P01_01": _rows([0], [1, 3], [1, 3], [3], [0], [2], num_classes=4).astype(np.float64),
               "P01_11": _rows([0], [2], [2], [0], num_classes=4).astype(np.float64)}
    for i, (vid, target) in enumerate(targets.items()):
        np.save(root / rgb / f"{vid}.npy", _features(i, len(target), 6))
        np.save(root / flow / f"{vid}.npy", _features(10 + i, len(target), 3))
        np.save(root / "target_perframe" / f"{vid}.npy", target)
    return root, [rgb, flow]


def test_ek100_flat_file_ignore_index_zero_keeps_background(ek100):
    root, folders = ek100
    data = read_oad(root, feature_dir=folders)
    assert data.name == "EK100" and data.step_names == EK_CLASSES[1:] and data.feature_dim == 9
    video = data.videos[0]
    # Overlapping actions: lowest column wins ("take plate" over "open fridge"); nothing is ignored.
    assert video.frame_labels().tolist() == [0, 1, 1, 3, 0, 2] and video.ignored is None
    assert (data.oad_info.ignore_index, data.oad_info.ignored_column(), data.oad_info.key) == (0, None, None)


def test_ignore_index_minus_100_means_no_ignored_class(ek100):
    root, folders = ek100
    info = json.loads((root / "data_info.json").read_text())
    _write_info(root, {**info, "ignore_index": -100})
    data = read_oad(root, feature_dir=folders[0])
    assert data.step_names == EK_CLASSES[1:] and data.oad_info.ignored_column() is None


# ------------------------------------------------------------------ writing back

@pytest.mark.parametrize("mmap", [False, True])
def test_thumos_round_trip_keeps_data_info(thumos, tmp_path, mmap):
    data = read_oad(thumos, feature_dir=[RGB, FLOW], name="THUMOS", mmap=mmap)
    write_oad(data, tmp_path / "out", feature_dir="features")
    info = json.loads((tmp_path / "out" / "data_info.json").read_text())
    assert list(info) == ["THUMOS"]  # the original key, and only our data set
    entry = info["THUMOS"]
    assert (entry["class_names"], entry["num_classes"], entry["ignore_index"]) == (THUMOS_CLASSES, 22, 21)
    assert (entry["data_root"], entry["metrics"], entry["fps"]) == ("data/THUMOS", "AP", 4.0)
    assert entry["val_session_set"] == ["video_validation_0000053"]
    target = np.load(tmp_path / "out" / "target_perframe" / "video_validation_0000051.npy")
    assert target.shape == (12, 22) and target[5].tolist() == np.eye(22)[AMBIGUOUS].tolist()
    # multi-hot rows come back as read (Video.also_true), so mAP on the copy is the same; an ignored
    # row keeps only the ignore column (row 8 had Diving too)
    expected = MAIN_TARGET > 0
    expected[8] = np.eye(22)[AMBIGUOUS]
    assert np.array_equal(target > 0, expected)

    back = read_oad(tmp_path / "out", feature_dir="features")
    assert (back.name, back.step_names, back.oad_info) == (data.name, data.step_names, data.oad_info)
    for a, b in zip(data.videos, back.videos):
        assert (a.video_id, a.subset, a.segments) == (b.video_id, b.subset, b.segments)
        assert np.array_equal(a.ignored_mask(), b.ignored_mask())
        assert np.array_equal(np.asarray(a.features), b.features)
        assert (a.multi_hot_truth(21) is None) == (b.multi_hot_truth(21) is None)
        if a.also_true is not None:
            assert np.array_equal(a.multi_hot_truth(21), b.multi_hot_truth(21))


def test_ek100_round_trip_stays_flat(ek100, tmp_path):
    root, folders = ek100
    data = read_oad(root, feature_dir=folders)
    write_oad(data, tmp_path / "out")
    info = json.loads((tmp_path / "out" / "data_info.json").read_text())
    assert (info["name"], info["class_names"], info["ignore_index"]) == ("EK100", EK_CLASSES, 0)
    assert info["metrics"] == "AP"
    assert "val_session_set" not in info
    back = read_oad(tmp_path / "out")
    assert [v.frame_labels().tolist() for v in back.videos] == [v.frame_labels().tolist() for v in data.videos]


def test_writer_refuses_what_it_cannot_write_back(thumos, ek100, tmp_path):
    data = read_oad(thumos, feature_dir=RGB, name="THUMOS")
    renamed = read_oad(thumos, feature_dir=RGB, name="THUMOS")
    renamed.step_names[0] = "Pitching"
    with pytest.raises(ValueError, match="oad_info.class_names .* differ from step_names"):
        write_oad(renamed, tmp_path / "a")
    data.oad_info = None  # ignored frames, but no ignore class to write them as
    with pytest.raises(ValueError, match="'video_validation_0000051': has ignored frames but no ignore class"):
        write_oad(data, tmp_path / "b")
    ek = read_oad(ek100[0], feature_dir=ek100[1])
    ek.videos[0].ignored = np.zeros(3, dtype=bool)
    with pytest.raises(ValueError, match=r"video 'P01_01': ignored should be a bool array \[T\] = \[6\]"):
        write_oad(ek, tmp_path / "c")
    coin = read_oad(thumos, feature_dir=RGB, name="THUMOS")
    with pytest.raises(ValueError, match="'video_validation_0000051': the COIN layout cannot hold ignored frames"):
        datasets.write_coin(coin, tmp_path / "d")
    coin.videos[0].ignored = None
    with pytest.raises(ValueError, match="'video_validation_0000053': the COIN layout cannot hold a val subset"):
        datasets.write_coin(coin, tmp_path / "d")
    assert not any((tmp_path / x).exists() for x in "abcd")


def test_oad_info_columns():
    info = OADInfo(["bg", "a", "ambiguous", "b"], ignore_index=2)
    assert (info.ignored_column(), info.step_columns()) == (2, [1, 3])
    assert OADInfo(["bg", "a"], ignore_index=-100).ignored_column() is None
    assert OADInfo(["bg", "a"], ignore_index=0).step_columns() == [1]


# ---------------------------------------------------------------------------------------------
# COIN as it comes: videos without features, end times rounding one frame past the features
# ---------------------------------------------------------------------------------------------

def _coin_root(tmp_path):
    """A COIN.json written by hand as the official one is (global step ids, extra fields), with
    features at 2 fps whose rate is in the extraction manifest `python -m gadlib.features` writes.

    a: 10 frames; its last segment ends at 5.2 s -> frame 10 (ok). b: 8 frames; a segment ends at
    4.3 s -> frame 9, one past the features; another starts at 4.0 s (frame 8) and ends at 4.4 s
    (frame 9): clipping leaves it empty. c: listed in COIN.json, no feature file. d: a testing video.
    """
    root = tmp_path / "COIN"
    (root / "features").mkdir(parents=True)
    for vid, frames in (("a", 10), ("b", 8), ("d", 6)):
        np.save(root / "features" / f"{vid}.npy", _features(len(vid), frames, 4))
    (root / "features" / "manifest.json").write_text(json.dumps({"settings": {"encoder": "x", "fps": 2.0}}))

    def entry(subset, task, *segments):
        return {"subset": subset, "class": task, "recipe_type": 3, "start": 0.0, "end": 9.9,
                "annotation": [{"id": str(100 + i), "segment": list(seg), "label": label}
                               for i, (label, *seg) in enumerate(segments)]}
    database = {"a": entry("training", "MakeTea", ("boil water", 0.5, 2.0), ("pour water", 3.0, 5.2)),
                "b": entry("training", "MakeTea", ("boil water", 1.0, 2.5), ("pour water", 2.6, 4.0),
                           ("add tea bag", 4.3, 4.3 + 0.05)),
                "c": entry("training", "ChangeTyre", ("jack car", 1.0, 2.0)),
                "d": entry("testing", "MakeTea", ("pour water", 0.0, 3.0))}
    database["b"]["annotation"][1]["segment"] = [2.6, 4.3]  # frame 9 > 8 frames
    database["b"]["annotation"][2]["segment"] = [4.0, 4.4]  # frames [8, 9): empty once clipped
    (root / "COIN.json").write_text(json.dumps({"version": "1.0", "database": database}))
    return root


def test_coin_strict_by_default_names_what_is_wrong(tmp_path):
    root = _coin_root(tmp_path)
    with pytest.raises(ValueError, match=r"'b'.*segment 1 frames \[5, 9\) outside the video's 8 frames"):
        read_coin(root)
    with pytest.raises(FileNotFoundError, match=r"features/c\.npy: feature .*file not found"):
        read_coin(root, clip_frames=1)
    for bad in ({"missing_features": "ignore"}, {"clip_frames": -1}, {"clip_frames": 0.5}):
        with pytest.raises(ValueError, match="read_coin: (missing_features|clip_frames)"):
            read_coin(root, **bad)


def test_coin_lenient_skips_and_clips_and_reports(tmp_path):
    root = _coin_root(tmp_path)
    report = CoinReadReport()
    with pytest.warns(UserWarning, match=r"skipped 1 video.*\(c\).*clipped 2 segment.*at most 1 frame.*dropped 1"):
        coin = read_coin(root, missing_features="skip", clip_frames=1, report=report)
    assert sorted(v.video_id for v in coin.videos) == ["a", "b", "d"]
    assert list(report.skipped) == ["c"] and "c.npy" in report.skipped["c"]
    assert report.clipped == [("b", 1, 9, 8), ("b", 2, 9, 8)] and report.dropped == [("b", 2)]
    names = coin.step_names  # sorted names of every annotation, the skipped video's included
    assert names == ["add tea bag", "boil water", "jack car", "pour water"]
    b = next(v for v in coin.videos if v.video_id == "b")
    assert [(s.start, s.end, names[s.label]) for s in b.segments] == [(2, 5, "boil water"), (5, 8, "pour water")]
    a = next(v for v in coin.videos if v.video_id == "a")
    assert [(s.start, s.end) for s in a.segments] == [(1, 4), (6, 10)]  # untouched: 5.2 s -> frame 10 = T
    # The tolerance is a bound: a segment 2 frames past the features is still an error.
    database = json.loads((root / "COIN.json").read_text())
    database["database"]["a"]["annotation"][1]["segment"] = [3.0, 6.0]  # frame 12, 10 frames
    (root / "COIN.json").write_text(json.dumps(database))
    with pytest.raises(ValueError, match=r"'a'.*segment 1 frames \[6, 12\) outside"):
        read_coin(root, missing_features="skip", clip_frames=1)


def test_coin_strict_read_warns_nothing(tmp_path):
    root = _coin_root(tmp_path)
    (root / "features" / "c.npy").write_bytes((root / "features" / "d.npy").read_bytes())
    database = json.loads((root / "COIN.json").read_text())
    database["database"]["b"]["annotation"] = database["database"]["b"]["annotation"][:1]
    (root / "COIN.json").write_text(json.dumps(database))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_coin(root, missing_features="skip", clip_frames=2).videos) == 4


def test_coin_json_saved_with_a_byte_order_mark(tmp_path):
    root = _coin_root(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 video"):
        plain = read_coin(root, missing_features="skip", clip_frames=1)
    (root / "COIN.json").write_bytes(b"\xef\xbb\xbf" + (root / "COIN.json").read_bytes())
    with pytest.warns(UserWarning, match="skipped 1 video"):
        saved = read_coin(root, missing_features="skip", clip_frames=1)
    assert saved.step_names == plain.step_names
    assert [(v.video_id, v.segments) for v in saved.videos] == [(v.video_id, v.segments) for v in plain.videos]
