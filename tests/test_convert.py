"""python -m gadlib.convert on small files written here in each data set's official format.

Every expected frame label is worked out by hand from the rules in gadlib/data/convert.py: a segment
[start, end) s covers frames ceil(start x fps) .. ceil(end x fps) - 1 ("sample"), for CrossTask
floor(start x fps) .. ceil(end x fps) - 1 ("overlap", CrossTask's own loader); overlapping classes
are multi-hot, and read_oad reads such a row as the lowest column.
"""

import csv
import json
import shutil

import numpy as np
import pytest

from gadlib.data import convert
from gadlib.data.annotation_formats import THUMOS_CLASSES, read_crosstask
from gadlib.data.datasets import read_coin, read_oad


def _features(folder, frames, fps=None, dim=3):
    """One [T, dim] file per video; with fps, the extraction manifest gadlib.data.features writes."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, (video, t) in enumerate(frames.items()):
        np.save(folder / f"{video}.npy", np.full((t, dim), k, dtype=np.float32))
    if fps is not None:
        (folder / "manifest.json").write_text(json.dumps({"settings": {"encoder": "e", "fps": fps}, "videos": {}}))
    return folder


def _run(tmp_path, *args):
    return convert.main([*map(str, args)])


def _labels(data, video):
    return next(v for v in data.videos if v.video_id == video).frame_labels().tolist()


# ---------------------------------------------------------------------------------------------
# THUMOS'14
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def thumos(tmp_path):
    ann = tmp_path / "annotations"
    ann.mkdir()
    for name in THUMOS_CLASSES + ["Ambiguous"]:
        for split in ("val", "test"):
            (ann / f"{name}_{split}.txt").write_text("")
    (ann / "CliffDiving_val.txt").write_text("video_validation_1 1.0 2.0\n")         # frames [4, 8)
    (ann / "Diving_val.txt").write_text("video_validation_1  1.5\t3.0\n\n")         # [6, 12): 6-7 overlap
    (ann / "Ambiguous_val.txt").write_text("video_validation_1 5.0 5.5\n")          # [20, 22) ignored
    (ann / "BaseballPitch_val.txt").write_text(
        "video_validation_1 9.5 12.0\n"      # [38, 48) clipped to the 40 frames: [38, 40)
        "video_validation_2 2.2 2.2\n"       # zero length: dropped
        "video_validation_2 6.0 7.0\n"       # [24, 28), past the 20 frames: dropped
        "video_validation_2 0.1 0.2\n"       # ceil(0.4) = ceil(0.8) = 1: covers no frame, dropped
        "video_validation_3 1 2\n")          # no feature file: the video is dropped
    (ann / "Shotput_test.txt").write_text("video_test_1 0.7 1.2\n")                 # [ceil 2.8, ceil 4.8) = [3, 5)
    features = _features(tmp_path / "rgb", {"video_validation_1": 40, "video_validation_2": 20, "video_test_1": 30,
                                            "unlisted": 5})
    return ann, features


def test_thumos14_frames_overlap_ignore_clip_and_drops(thumos, tmp_path, capsys):
    ann, features = thumos
    out = tmp_path / "THUMOS"
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 4, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "dropped videos: 1" in printed and "dropped segments: 3" in printed and "clipped segments: 1" in printed

    info = json.loads((out / "data_info.json").read_text())
    assert info["class_names"] == ["Background"] + THUMOS_CLASSES + ["Ambiguous"]
    assert (info["num_classes"], info["ignore_index"], info["fps"]) == (22, 21, 4.0)
    assert info["train_session_set"] == ["video_validation_1", "video_validation_2"]
    assert info["test_session_set"] == ["video_test_1"]
    target = np.load(out / "target_perframe" / "video_validation_1.npy")
    assert target.shape == (40, 22)
    assert np.flatnonzero(target[:, 5]).tolist() == [4, 5, 6, 7]           # CliffDiving
    assert np.flatnonzero(target[:, 8]).tolist() == list(range(6, 12))      # Diving, kept multi-hot
    assert np.flatnonzero(target[:, 21]).tolist() == [20, 21]               # Ambiguous
    assert np.flatnonzero(target[:, 0] == 0).tolist() == list(range(4, 12)) + [20, 21, 38, 39]
    assert (out / "rgb" / "video_validation_1.npy").is_symlink()

    data = read_oad(out, feature_dir="rgb")
    labels = _labels(data, "video_validation_1")
    # step + 1: BaseballPitch 1, CliffDiving 5, Diving 8; frames 6-7 are both: the lowest column wins
    assert labels[4:12] == [5, 5, 5, 5, 8, 8, 8, 8] and labels[38:] == [1, 1] and sum(labels) == 4 * 5 + 4 * 8 + 2
    video = next(v for v in data.videos if v.video_id == "video_validation_1")
    assert np.flatnonzero(video.ignored_mask()).tolist() == [20, 21]
    assert _labels(data, "video_validation_2") == [0] * 20
    assert _labels(data, "video_test_1")[2:6] == [0, 16, 16, 0]             # Shotput is step 16

    report = json.loads((out / "convert_report.json").read_text())
    assert report["dropped_videos"] == [{"video": "video_validation_3", "split": "train", "segments": 1,
                                         "reason": f"no feature file {features / 'video_validation_3.npy'}"}]
    reasons = [d["reason"] for d in report["dropped_segments"]]
    assert reasons == ["zero length", "starts at frame 24, past the video's 20 frames", "covers no frame at 4.0 fps"]
    assert report["dropped_segments"][0]["source"] == f"{ann / 'BaseballPitch_val.txt'}:2"
    assert report["clipped_segments"][0]["frames"] == [38, 48] and report["clipped_segments"][0]["kept"] == [38, 40]
    assert report["multi_label_frames"] == 2 and report["feature_files_without_annotations"] == ["unlisted"]
    assert report["segments"] == {"annotated": 9, "kept": 5, "clipped": 1, "dropped": 3, "in_dropped_videos": 1}


def test_thumos14_bad_files_are_named(thumos, tmp_path, capsys):
    ann, features = thumos
    (ann / "Diving_val.txt").write_text("video_validation_1 1.5\n")
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 4,
                "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{ann / 'Diving_val.txt'}:1: expected 'video start end'" in err
    (ann / "Diving_val.txt").write_text("video_validation_1 3.0 1.5\n")
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 4,
                "--out", tmp_path / "o") == 2
    assert "Diving_val.txt:1: end 1.5 s is before start 3.0 s" in capsys.readouterr().err
    (ann / "Diving_val.txt").unlink()
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 4,
                "--out", tmp_path / "o") == 2
    assert f"Diving_val.txt: file not found in {ann} (" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_thumos14_validation_and_test_folders_of_the_download(thumos, tmp_path, capsys):
    """THUMOS'14's download unpacks the validation and the test annotations into two folders."""
    ann, features = thumos
    val, test = tmp_path / "validation" / "annotation", tmp_path / "test" / "annotations" / "annotation"
    for folder in (val, test):
        folder.mkdir(parents=True)
    for path in ann.glob("*.txt"):
        shutil.copy(path, (val if path.stem.endswith("_val") else test) / path.name)
    args = ["thumos14", "--features", features, "--fps", 4]
    assert _run(tmp_path, *args, "--annotations", val, "--out", tmp_path / "o") == 2
    assert (f"BaseballPitch_test.txt: file not found in {val} (THUMOS'14 has one file per class and split, "
            f"Ambiguous included; its download keeps the validation *_val.txt and the test *_test.txt files in "
            f"two folders: pass both, --annotations VAL_FOLDER --annotations TEST_FOLDER)") in capsys.readouterr().err
    assert _run(tmp_path, *args, "--annotations", test, "--out", tmp_path / "o") == 2
    assert f"BaseballPitch_val.txt: file not found in {test} (" in capsys.readouterr().err
    assert _run(tmp_path, *args, "--annotations", val, "--annotations", test, "--out", tmp_path / "two") == 0
    assert _run(tmp_path, *args, "--annotations", ann, "--out", tmp_path / "one") == 0
    for rel in ["data_info.json"] + [f"target_perframe/{v}.npy" for v in ("video_validation_1", "video_test_1")]:
        assert (tmp_path / "two" / rel).read_bytes() == (tmp_path / "one" / rel).read_bytes()
    report = json.loads((tmp_path / "two" / "convert_report.json").read_text())
    assert report["annotations"] == f"{val}, {test}"
    # one file in both folders: the same bytes are one file, different ones an error naming both
    shutil.copy(val / "Diving_val.txt", test / "Diving_val.txt")
    assert _run(tmp_path, *args, "--annotations", val, "--annotations", test, "--out", tmp_path / "two") == 0
    (test / "Diving_val.txt").write_text("video_validation_1 0 1\n")
    assert _run(tmp_path, *args, "--annotations", val, "--annotations", test, "--out", tmp_path / "two") == 2
    assert f"{val / 'Diving_val.txt'} and {test / 'Diving_val.txt'} both exist and differ" in capsys.readouterr().err


def test_several_annotation_folders_are_for_thumos14_only(crosstask, tmp_path, capsys):
    root, features = crosstask
    assert _run(tmp_path, "crosstask", "--annotations", root, "--annotations", root, "--features", features,
                "--out", tmp_path / "o") == 2
    assert "--annotations given 2 times: only thumos14 reads several folders" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# fps and the writer rule (shown on THUMOS'14; every converter shares them)
# ---------------------------------------------------------------------------------------------

def test_fps_from_the_manifest_and_a_mismatch_is_an_error(thumos, tmp_path, capsys):
    ann, features = thumos
    (features / "manifest.json").write_text(json.dumps({"settings": {"encoder": "e", "fps": 4}}))
    out = tmp_path / "out"
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--out", out) == 0
    assert json.loads((out / "convert_report.json").read_text())["fps_from"].endswith("manifest.json (settings.fps)")
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 2, "--out", out) == 2
    assert "--fps 2.0 disagrees with" in capsys.readouterr().err
    (features / "manifest.json").unlink()
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--out", tmp_path / "x") == 2
    assert "no extraction manifest" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_foreign_files_in_out_are_kept_or_refused(thumos, tmp_path, capsys):
    ann, features = thumos
    out = tmp_path / "out"
    (out / "target_perframe").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    np.save(out / "target_perframe" / "old.npy", np.zeros(2))
    args = ["thumos14", "--annotations", ann, "--features", features, "--fps", 4, "--out", out]
    assert _run(tmp_path, *args) == 2
    assert f"{out / 'target_perframe' / 'old.npy'}" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == ["notes.txt", "old.npy", "target_perframe"]
    (out / "target_perframe" / "old.npy").unlink()
    assert _run(tmp_path, *args) == 0 and _run(tmp_path, *args) == 0  # a rerun replaces its own files
    # Without video_validation_2, its two files (gadlib's own) are removed, and reported.
    (features / "video_validation_2.npy").unlink()
    assert _run(tmp_path, *args) == 0
    report = json.loads((out / "convert_report.json").read_text())
    assert report["removed_stale_files"] == ["rgb/video_validation_2.npy", "target_perframe/video_validation_2.npy"]
    assert (out / "notes.txt").read_text() == "mine"


def test_features_already_in_out_are_used_in_place(thumos, tmp_path):
    ann, features = thumos
    out = tmp_path / "THUMOS"
    in_place = _features(out / "feats", {"video_validation_1": 40, "video_validation_2": 20, "video_test_1": 30})
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", in_place, "--fps", 4, "--out", out) == 0
    assert not any(p.is_symlink() for p in in_place.iterdir())
    assert len(read_oad(out, feature_dir="feats").videos) == 3


# ---------------------------------------------------------------------------------------------
# CrossTask
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def crosstask(tmp_path):
    root = tmp_path / "crosstask_release"
    (root / "annotations").mkdir(parents=True)
    (root / "tasks_primary.txt").write_text(
        "100\nMake Tea\nhttp://a\n3\nboil water,pour water,add tea bag\n\n"
        "200\nMake Coffee\nhttp://b\n2\npour water,grind beans\n\n")
    (root / "annotations" / "100_vidA.csv").write_text("1,0.0,2.5\n2,2.5,4.0\n")   # [0, 3), [2, 4) at 1 fps
    (root / "annotations" / "200_vid_B-1.csv").write_text("1,1.0,3.0\n2,2.0,4.0\n")  # [1, 3) pour, [2, 4) grind
    (root / "annotations" / "100_vidC.csv").write_text("3,0,1\n")
    (root / "videos_val.csv").write_text("200,vid_B-1,http://c\n100,ghost,http://d\n")
    features = _features(tmp_path / "dinov2", {"vidA": 5, "vid_B-1": 4, "vidC": 3}, fps=1)
    return root, features


def test_crosstask_shared_steps_split_file_and_overlap(crosstask, tmp_path):
    root, features = crosstask
    out = tmp_path / "CrossTask"
    assert _run(tmp_path, "crosstask", "--annotations", root, "--features", features,
                "--split", root / "videos_val.csv", "--out", out) == 0
    info = json.loads((out / "data_info.json").read_text())
    # "pour water" of both tasks is one class (the paper's 105 CrossTask steps count step texts)
    assert info["class_names"] == ["background", "boil water", "pour water", "add tea bag", "grind beans"]
    assert "ignore_index" not in info and info["fps"] == 1.0
    assert (info["train_session_set"], info["test_session_set"]) == (["vidA", "vidC"], ["vid_B-1"])
    data = read_oad(out, feature_dir="dinov2")
    assert _labels(data, "vidA") == [1, 1, 1, 2, 0]  # frame 2 (2-3 s) is both steps: the lowest column
    assert np.load(out / "target_perframe" / "vidA.npy")[:, :3].tolist() == [[0, 1, 0], [0, 1, 0], [0, 1, 1],
                                                                             [0, 0, 1], [1, 0, 0]]
    assert _labels(data, "vid_B-1") == [0, 2, 2, 4]  # frame 2 is pour water + grind beans: lowest column
    assert np.load(out / "target_perframe" / "vid_B-1.npy")[2].tolist() == [0, 0, 1, 0, 1]
    report = json.loads((out / "convert_report.json").read_text())
    assert "1 listed videos have no annotation file" in report["rules"][1]


def test_crosstask_per_task_names_and_seeded_split(crosstask):
    root, _ = crosstask
    ann = read_crosstask(root, step_names="per-task")
    assert ann.class_names == ["background", "boil water", "pour water (Make Tea)", "add tea bag",
                               "pour water (Make Coffee)", "grind beans"]
    again = read_crosstask(root, seed=0)
    assert again.subsets == read_crosstask(root, seed=0).subsets  # deterministic
    # task 100 has 2 videos: round(0.2 x 2) = 0, raised to 1 test video; task 200 has 1: it stays train
    assert sorted(again.subsets.values()) == ["test", "train", "train"] and again.subsets["vid_B-1"] == "train"
    assert "numpy.random.default_rng(0)" in again.rules[1]


def test_crosstask_bad_step_is_named(crosstask, tmp_path, capsys):
    root, features = crosstask
    (root / "annotations" / "200_vid_B-1.csv").write_text("1,1.0,3.0\n3,2.0,4.0\n")
    assert _run(tmp_path, "crosstask", "--annotations", root, "--features", features, "--out", tmp_path / "o") == 2
    assert "200_vid_B-1.csv:2: step should be 1..2 (task 200), got '3'" in capsys.readouterr().err


# Six steps of one video, times as CrossTask's annotation files give them, and the frames each
# covers at 1 fps: (start, end, CrossTask's frames floor(start) .. ceil(end) - 1, ceil(start) ..).
SIX_STEPS = [(5.2, 9.8, range(5, 10), range(6, 10)), (11.5, 15.0, range(11, 15), range(12, 15)),
             (15.6, 19.3, range(15, 20), range(16, 20)), (21.1, 24.9, range(21, 25), range(22, 25)),
             (26.4, 30.7, range(26, 31), range(27, 31)), (31.8, 35.2, range(31, 36), range(32, 36))]


@pytest.mark.parametrize("rule, frames", [(None, 28), ("overlap", 28), ("sample", 22)])
def test_crosstask_keeps_the_first_second_of_every_step(crosstask, tmp_path, rule, frames):
    root, features = crosstask
    tasks = "".join(f"{task}\nTask {task}\nhttp://t\n6\n{','.join(f'step {task}.{k}' for k in range(1, 7))}\n\n"
                    for task in (100, 200))
    (root / "tasks_primary.txt").write_text(tasks)
    (root / "annotations" / "100_vidA.csv").write_text("".join(f"{k},{a},{b}\n"
                                                               for k, (a, b, _, _) in enumerate(SIX_STEPS, 1)))
    (root / "annotations" / "200_vid_B-1.csv").write_text("1,0.0,1.0\n")
    (root / "annotations" / "100_vidC.csv").unlink()
    np.save(features / "vidA.npy", np.zeros((40, 3), dtype=np.float32))
    out = tmp_path / "CrossTask"
    args = ["--frame-rule", rule] if rule else []
    assert _run(tmp_path, "crosstask", "--annotations", root, "--features", features, "--split",
                root / "videos_val.csv", "--out", out, *args) == 0
    expected = [0] * 40
    for k, (_, _, overlap, sample) in enumerate(SIX_STEPS, 1):
        for t in (sample if rule == "sample" else overlap):
            expected[t] = k
    labels = _labels(read_oad(out, feature_dir="dinov2"), "vidA")
    assert labels == expected and sum(label > 0 for label in labels) == frames
    report = json.loads((out / "convert_report.json").read_text())
    assert report["frame_rule"].startswith(f"{rule or 'overlap'}: frame t is the ")


def test_frame_range_at_any_fps():
    assert convert.frame_range(1.3, 2.2, 2, "overlap") == (2, 5)   # 2.6 .. 4.4: frames 2, 3, 4
    assert convert.frame_range(1.3, 2.2, 2, "sample") == (3, 5)    # frames at 1.5 s and 2.0 s
    assert convert.frame_range(1.0, 2.0, 1, "overlap") == (1, 2)   # the second from 2.0 s is not in it
    assert convert.frame_range(1.16, 1.2, 25, "overlap") == (29, 30)  # 1.16 x 25 = 28.999999999999996
    assert convert.frame_range(0.7, 0.8, 10, "sample") == (7, 8)   # 0.7 x 10 = 7.000000000000001


def _data_info(path, entries):
    path.write_text(json.dumps(entries))
    return path


def _entry(train, test, classes=("background", "x")):
    return {"class_names": list(classes), "num_classes": len(classes), "fps": 1, "train_session_set": train,
            "test_session_set": test}


def test_split_from_a_data_info_json(crosstask, tmp_path, capsys):
    root, features = crosstask
    info = _data_info(tmp_path / "data_info.json", {"CrossTask": _entry(["vid_B-1"], ["vidA", "ghost"]),
                                                    "COIN": _entry(["c1"], ["c2"])})
    args = ["crosstask", "--annotations", root, "--features", features, "--split-from", info]
    out = tmp_path / "CrossTask"
    assert _run(tmp_path, *args, "--out", out) == 2
    assert f"{info}: holds several data sets ['COIN', 'CrossTask']; pass --info-key to pick one" in \
        capsys.readouterr().err
    assert _run(tmp_path, *args, "--info-key", "COIN", "--out", out) == 2
    assert "none of the 1 videos of train_session_set (e.g. 'c1') is in the crosstask annotations" in \
        capsys.readouterr().err
    assert _run(tmp_path, *args, "--info-key", "CrossTask", "--out", out) == 0
    written = json.loads((out / "data_info.json").read_text())
    assert (written["train_session_set"], written["test_session_set"]) == (["vid_B-1"], ["vidA"])
    report = json.loads((out / "convert_report.json").read_text())
    where = f"{info}: ['CrossTask']"
    assert report["dropped_videos"] == [{"video": "vidC", "split": "train", "segments": 1,
                                         "reason": f"in no session set of {where} (--split-from)"}]
    assert report["rules"][1] == (f"split: the train_session_set, test_session_set of {where}; 1 annotated videos "
                                  f"in none of them are dropped, 1 listed videos have no annotation")
    assert report["segments"]["in_dropped_videos"] == 1
    # the split of an earlier conversion, reused as it is
    assert _run(tmp_path, "crosstask", "--annotations", root, "--features", features, "--split-from",
                out / "data_info.json", "--out", tmp_path / "again") == 0
    again = json.loads((tmp_path / "again" / "data_info.json").read_text())
    assert (again["train_session_set"], again["test_session_set"]) == (["vid_B-1"], ["vidA"])
    assert _run(tmp_path, *args, "--info-key", "CrossTask", "--split", root / "videos_val.csv", "--out", out) == 2
    assert "--split-from is a whole split: pass it or --split / --test-videos, not both" in capsys.readouterr().err


def test_split_from_with_a_val_set_on_thumos(thumos, tmp_path):
    ann, features = thumos
    info = _data_info(tmp_path / "data_info.json", _entry(["video_validation_1"], ["video_test_1"]) |
                      {"val_session_set": ["video_validation_2"]})
    out = tmp_path / "THUMOS"
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 4,
                "--split-from", info, "--out", out) == 0
    data = read_oad(out, feature_dir="rgb")
    assert [(v.video_id, v.subset) for v in data.videos] == [("video_validation_1", "train"),
                                                            ("video_validation_2", "val"), ("video_test_1", "test")]
    assert json.loads((out / "data_info.json").read_text())["ignore_index"] == 21  # the class rules still hold


# ---------------------------------------------------------------------------------------------
# EPIC-KITCHENS-100
# ---------------------------------------------------------------------------------------------

EPIC_COLUMNS = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
                "stop_timestamp", "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun",
                "noun_class", "all_nouns", "all_noun_classes"]


def _epic_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(EPIC_COLUMNS)
        for k, (video, start, stop, verb, verb_class, noun, noun_class) in enumerate(rows):
            writer.writerow([f"{video}_{k}", video[:3], video, start, start, stop, 0, 1, f"{verb} {noun}, then",
                             verb, verb_class, noun, noun_class, f"['{noun}']", f"[{noun_class}]"])


@pytest.fixture
def epic100(tmp_path):
    ann = tmp_path / "epic-kitchens-100-annotations"
    ann.mkdir()
    (ann / "EPIC_100_verb_classes.csv").write_text("id,key,instances,category\n0,take,\"['take']\",x\n"
                                                   "1,put,\"['put']\",x\n2,open,\"['open']\",x\n")
    (ann / "EPIC_100_noun_classes.csv").write_text("id,key,instances,category\n0,tap,\"['tap']\",x\n"
                                                   "1,plate,\"['plate']\",x\n")
    _epic_csv(ann / "EPIC_100_train.csv", [("P01_01", "00:00:01.00", "00:00:02.50", "take", 0, "plate", 1),   # [4, 10)
                                           ("P01_01", "00:00:02.00", "00:00:03.00", "put", 1, "plate", 1)])   # [8, 12)
    _epic_csv(ann / "EPIC_100_validation.csv", [("P02_01", "00:00:00.50", "00:00:01.25", "open", 2, "tap", 0)])  # [2, 5)
    return ann, _features(tmp_path / "rgb_kinetics_bninception", {"P01_01": 16, "P02_01": 8})


def test_epic100_verb_noun_actions(epic100, tmp_path):
    ann, features = epic100
    out = tmp_path / "EK100"
    assert _run(tmp_path, "epic100", "--annotations", ann, "--features", features, "--fps", 4, "--out", out) == 0
    info = json.loads((out / "data_info.json").read_text())
    assert info["class_names"] == ["background", "take plate", "put plate", "open tap"]
    data = read_oad(out, feature_dir="rgb_kinetics_bninception")
    assert _labels(data, "P01_01") == [0] * 4 + [1] * 6 + [2] * 2 + [0] * 4  # frames 8-9 both: take plate wins
    assert _labels(data, "P02_01") == [0, 0, 3, 3, 3, 0, 0, 0]
    assert [v.subset for v in data.videos] == ["train", "test"]
    _epic_csv(ann / "EPIC_100_validation.csv", [("P02_01", "00:00:00.50", "0:01.25", "open", 2, "tap", 0)])
    with pytest.raises(ValueError, match=r"EPIC_100_validation.csv:2: stop_timestamp should be HH:MM:SS.ff"):
        convert.convert(convert.formats.read_epic100(ann), features, out, fps=4)


@pytest.mark.parametrize("listing", ["text", "data_info"])
def test_epic100_class_order_of_a_given_list(epic100, tmp_path, listing):
    """TeSTra's EK100 class list orders the same names otherwise than verb then noun id."""
    ann, features = epic100
    order = ["open tap", "put plate", "take plate"]
    if listing == "text":
        class_list = tmp_path / "ek100_classes.txt"
        class_list.write_text("Background\n" + "\n".join(order) + "\n\n")
        key = []
    else:
        class_list = _data_info(tmp_path / "data_info.json", {
            "THUMOS": _entry(["a"], ["b"]), "EK100": _entry(["P01_01"], ["P02_01"], ["Background"] + order)})
        key = ["--info-key", "EK100"]
    out = tmp_path / "EK100"
    assert _run(tmp_path, "epic100", "--annotations", ann, "--features", features, "--fps", 4, "--out", out,
                "--class-order", class_list, *key) == 0
    assert json.loads((out / "data_info.json").read_text())["class_names"] == ["Background"] + order
    data = read_oad(out, feature_dir="rgb_kinetics_bninception")
    # take plate [4, 10) is column 3 now, put plate [8, 12) column 2: frames 8-9 read as put plate
    assert _labels(data, "P01_01") == [0] * 4 + [3] * 4 + [2] * 4 + [0] * 4
    assert _labels(data, "P02_01") == [0, 0, 1, 1, 1, 0, 0, 0]
    rules = json.loads((out / "convert_report.json").read_text())["rules"]
    assert rules[-1].startswith("class order: that of ") and rules[-1].endswith(", replacing the order above")


def test_class_order_names_missing_extra_and_repeated_names(epic100, tmp_path, capsys):
    ann, features = epic100
    class_list = tmp_path / "classes.txt"
    args = ["epic100", "--annotations", ann, "--features", features, "--fps", 4, "--out", tmp_path / "o",
            "--class-order", class_list]
    class_list.write_text("take plate\nput plate\nclose tap\n")
    assert _run(tmp_path, *args) == 2
    assert (f"{class_list}: lacks 1 of the 3 epic100 classes ('open tap') and lists 1 names that are no epic100 "
            f"class ('close tap'); it should name each of the 3 classes once, spelt as the converter names them "
            f"(e.g. 'take plate', 'put plate'), background first or left out") in capsys.readouterr().err
    class_list.write_text("take plate\nput plate\nopen tap\nput plate\n")
    assert _run(tmp_path, *args) == 2
    assert f"{class_list}: names 'put plate' are listed more than once" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_class_order_keeps_the_ignored_class(thumos, tmp_path):
    ann, features = thumos
    class_list = tmp_path / "classes.txt"
    class_list.write_text("\n".join(["Ambiguous"] + THUMOS_CLASSES[::-1]))  # no background line
    out = tmp_path / "THUMOS"
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 4, "--out", out,
                "--class-order", class_list) == 0
    info = json.loads((out / "data_info.json").read_text())
    assert info["class_names"][:3] == ["Background", "Ambiguous", "VolleyballSpiking"] and info["ignore_index"] == 1
    target = np.load(out / "target_perframe" / "video_validation_1.npy")
    assert np.flatnonzero(target[:, 1]).tolist() == [20, 21]                       # Ambiguous
    assert np.flatnonzero(target[:, 21 - 5 + 1]).tolist() == [4, 5, 6, 7]          # CliffDiving, 5th of 20
    assert np.flatnonzero(target[:, 21 - 8 + 1]).tolist() == list(range(6, 12))   # Diving, 8th of 20


# ---------------------------------------------------------------------------------------------
# Ego4D GoalStep
# ---------------------------------------------------------------------------------------------

def _goalstep_segment(start, end, category, substeps=None):
    """A segment as the release writes it: substeps have no "segments" field, steps a list."""
    segment = {"start_time": start, "end_time": end, "step_category": category,
               "step_description": category.partition(": ")[2].lower(), "is_continued": False,
               "is_procedural": True, "is_relevant": "essential", "summary": []}
    return segment if substeps is None else {**segment, "segments": substeps}


def _goalstep_file(split, videos):
    return {"version": "1.0", "date": "231129", "description": f"Ego4D Goal-Step ({split})", "split": split,
            "videos": [{"video_uid": uid, "start_time": 0.02, "end_time": 60.0, "goal_category": "COOKING:MAKE_PASTA",
                        "goal_description": "make pasta", "summary": [], "is_procedural": True,
                        "segments": segments} for uid, segments in videos.items()]}


@pytest.fixture
def goalstep(tmp_path):
    """At 2 fps: u1 boils pasta [1, 4) (filling the pot, a substep, [1, 2)) and drains it [6, 8); u2
    drains pasta [2, 4), under another group of the taxonomy."""
    ann = tmp_path / "goalstep"
    ann.mkdir()
    fill = _goalstep_segment(0.5, 1.0, "Cook on a stovetop: Fill pot with water")
    train = _goalstep_file("train", {"u1": [_goalstep_segment(0.5, 2.0, "Make pasta: Boil pasta", [fill]),
                                            _goalstep_segment(3, 4, "Make pasta: Drain pasta", [])]})
    val = _goalstep_file("val", {"u2": [_goalstep_segment(1.0, 2.0, "Cook a meal: Drain pasta", [])]})
    (ann / "goalstep_train.json").write_text(json.dumps(train, indent=2))
    (ann / "goalstep_val.json").write_text(json.dumps(val, indent=2))
    return ann, _features(tmp_path / "dinov2_vitg14", {"u1": 10, "u2": 5}, fps=2)


def test_goalstep_uses_the_step_level(goalstep, tmp_path):
    ann, features = goalstep
    out = tmp_path / "GoalStep"
    assert _run(tmp_path, "goalstep", "--annotations", ann, "--features", features, "--out", out) == 0
    data = read_oad(out, feature_dir="dinov2_vitg14")
    # the substep is not a class; the two "Drain pasta" categories are two classes
    assert data.step_names == ["Cook a meal: Drain pasta", "Make pasta: Boil pasta", "Make pasta: Drain pasta"]
    assert _labels(data, "u1") == [0, 2, 2, 2, 0, 0, 3, 3, 0, 0] and _labels(data, "u2") == [0, 0, 1, 1, 0]
    val = json.loads((ann / "goalstep_val.json").read_text())
    del val["videos"][0]["segments"][0]["step_category"]
    (ann / "goalstep_val.json").write_text(json.dumps(val))
    with pytest.raises(ValueError, match=r"goalstep_val.json: videos\[0\].segments\[0\]: missing field 'step_category'"):
        convert.formats.read_goalstep(ann)


@pytest.mark.parametrize("names, level, classes, u1, u2, row1", [
    ("step", "steps", ["boil pasta", "drain pasta"], [0, 1, 1, 1, 0, 0, 2, 2, 0, 0], [0, 0, 2, 2, 0], [0, 1, 0]),
    # frame 1 is boil pasta and its substep fill pot with water: multi-hot, the lowest column wins
    ("step", "steps+substeps", ["boil pasta", "drain pasta", "fill pot with water"],
     [0, 1, 1, 1, 0, 0, 2, 2, 0, 0], [0, 0, 2, 2, 0], [0, 1, 0, 1]),
    ("category", "steps+substeps", ["Cook a meal: Drain pasta", "Cook on a stovetop: Fill pot with water",
                                    "Make pasta: Boil pasta", "Make pasta: Drain pasta"],
     [0, 2, 3, 3, 0, 0, 4, 4, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 0]),
])
def test_goalstep_step_names_and_substeps(goalstep, tmp_path, names, level, classes, u1, u2, row1):
    ann, features = goalstep
    out = tmp_path / "GoalStep"
    assert _run(tmp_path, "goalstep", "--annotations", ann, "--features", features, "--out", out,
                "--goalstep-names", names, "--goalstep-level", level) == 0
    data = read_oad(out, feature_dir="dinov2_vitg14")
    assert data.step_names == classes and _labels(data, "u1") == u1 and _labels(data, "u2") == u2
    assert np.load(out / "target_perframe" / "u1.npy")[1].tolist() == row1
    report = json.loads((out / "convert_report.json").read_text())
    assert report["multi_label_frames"] == (level == "steps+substeps")
    if names == "step":  # "Make pasta: Drain pasta" and "Cook a meal: Drain pasta" are one class
        assert "lower-cased; 1 name(s) stand for several categories" in report["rules"][0]


def test_goalstep_options_belong_to_goalstep(thumos, tmp_path, capsys):
    ann, features = thumos
    assert _run(tmp_path, "thumos14", "--annotations", ann, "--features", features, "--fps", 4, "--out",
                tmp_path / "o", "--goalstep-names", "step") == 2
    assert "--goalstep-names applies to goalstep only" in capsys.readouterr().err


@pytest.mark.parametrize("names", [["goalstep_valid.json"], ["goalstep_val.json", "goalstep_valid.json"]])
def test_goalstep_validation_file_of_the_github_release(goalstep, tmp_path, names):
    """github.com/facebookresearch/ego4d-goalstep ships data/goalstep_valid.json; the Ego4D CLI
    goalstep_val.json. Either is the test split; both, with the same bytes, are one file."""
    ann, features = goalstep
    val = (ann / "goalstep_val.json").read_bytes()
    (ann / "goalstep_val.json").unlink()
    for name in names:
        (ann / name).write_bytes(val)
    out = tmp_path / "GoalStep"
    assert _run(tmp_path, "goalstep", "--annotations", ann, "--features", features, "--out", out) == 0
    assert json.loads((out / "data_info.json").read_text())["test_session_set"] == ["u2"]
    rules = json.loads((out / "convert_report.json").read_text())["rules"]
    assert rules[1] == f"split: goalstep_train.json -> train, {names[0]} -> test"


def test_goalstep_validation_file_missing_or_twice(goalstep, tmp_path, capsys):
    ann, features = goalstep
    args = ["goalstep", "--annotations", ann, "--features", features, "--out", tmp_path / "o"]
    (ann / "goalstep_valid.json").write_text((ann / "goalstep_val.json").read_text().replace("u2", "u3"))
    assert _run(tmp_path, *args) == 2
    assert (f"{ann / 'goalstep_val.json'} and {ann / 'goalstep_valid.json'} both exist and differ: it is not "
            f"clear which to read; move one away") in capsys.readouterr().err
    (ann / "goalstep_val.json").unlink()
    (ann / "goalstep_valid.json").unlink()
    assert _run(tmp_path, *args) == 2
    assert (f"{ann}: no GoalStep test annotations: looked for goalstep_val.json and goalstep_valid.json; pass the "
            f"folder holding them as --annotations") in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------
# Your own videos
# ---------------------------------------------------------------------------------------------

def test_own_csv_with_split_column_and_test_videos(tmp_path, capsys):
    features = _features(tmp_path / "feats", {"a": 6, "b": 4, "c": 4}, fps=2)
    rows = "video,start,end,label,split\na,0.5,1.5,stir,train\na,1.0,2.0,add salt,train\nb,0,1,stir,test\nc,1,2,stir,train\n"
    (tmp_path / "mine.csv").write_text(rows)
    out = tmp_path / "out"
    assert _run(tmp_path, "own", "--annotations", tmp_path / "mine.csv", "--features", features, "--out", out) == 0
    data = read_oad(out, feature_dir="feats")
    assert data.step_names == ["add salt", "stir"]
    assert _labels(data, "a") == [0, 2, 1, 1, 0, 0]  # stir [1, 3), add salt [2, 4): frame 2 both, add salt lowest
    assert [v.video_id for v in data.split("test")] == ["b"]
    (tmp_path / "plain.csv").write_text(rows.replace(",split", "").replace(",train", "").replace(",test", ""))
    (tmp_path / "test.txt").write_text("c\n")
    assert _run(tmp_path, "own", "--annotations", tmp_path / "plain.csv", "--test-videos", tmp_path / "test.txt",
                "--features", features, "--out", tmp_path / "out2") == 0
    assert [v.video_id for v in read_oad(tmp_path / "out2", feature_dir="feats").split("test")] == ["c"]
    (tmp_path / "bad.csv").write_text("video,begin,end,label\na,0,1,stir\n")
    assert _run(tmp_path, "own", "--annotations", tmp_path / "bad.csv", "--features", features,
                "--out", tmp_path / "o3") == 2
    assert "bad.csv: line 1: the header ['video', 'begin', 'end', 'label'] lacks column(s) ['start']" in \
        capsys.readouterr().err
    assert _run(tmp_path, "thumos14", "--annotations", tmp_path, "--test-videos", tmp_path / "test.txt",
                "--features", features, "--out", tmp_path / "o3") == 2
    assert "--test-videos applies to own only" in capsys.readouterr().err
    # a video id is a file name under --out: one that is a path is refused, nothing is written
    (tmp_path / "path.csv").write_text("video,start,end,label,split\n../escape,0,1,stir,train\nb,0,1,stir,test\n")
    assert _run(tmp_path, "own", "--annotations", tmp_path / "path.csv", "--features", features,
                "--out", tmp_path / "o4") == 2
    assert "video ids must be plain file names; got '../escape'" in capsys.readouterr().err
    assert not (tmp_path / "o4").exists() and not (tmp_path / "escape.npy").exists()


# ---------------------------------------------------------------------------------------------
# Files saved by Excel or Notepad: a UTF-8 byte-order mark and CRLF line ends
# ---------------------------------------------------------------------------------------------

def _excel_saved(paths):
    """Rewrite each file as Excel ("CSV UTF-8") or Windows Notepad saves it."""
    for path in paths:
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


@pytest.fixture
def own(tmp_path):
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "mine.csv").write_text("video,start,end,label\na,0.5,1.5,stir\nb,0,1,add salt\nc,1,2,stir\n")
    (tmp_path / "own" / "test.txt").write_text("b\n")
    return tmp_path / "own", _features(tmp_path / "feats", {"a": 6, "b": 4, "c": 4}, fps=2)


# data set -> (the annotation files, the arguments besides --features and --out)
SAVED = {"thumos14": lambda ann: (list(ann.glob("*.txt")), ["--annotations", ann, "--fps", 4]),
         "crosstask": lambda ann: ([ann / "tasks_primary.txt", ann / "videos_val.csv", *ann.glob("annotations/*")],
                                   ["--annotations", ann, "--split", ann / "videos_val.csv"]),
         "epic100": lambda ann: (list(ann.glob("*.csv")), ["--annotations", ann, "--fps", 4]),
         "goalstep": lambda ann: (list(ann.glob("*.json")), ["--annotations", ann]),
         "own": lambda ann: ([ann / "mine.csv", ann / "test.txt"],
                             ["--annotations", ann / "mine.csv", "--test-videos", ann / "test.txt"])}


@pytest.mark.parametrize("dataset", sorted(SAVED))
def test_files_with_a_byte_order_mark_convert_alike(request, tmp_path, dataset):
    ann, features = request.getfixturevalue("thumos" if dataset == "thumos14" else dataset)
    files, args = SAVED[dataset](ann)
    assert _run(tmp_path, dataset, *args, "--features", features, "--out", tmp_path / "plain") == 0
    _excel_saved(files)
    assert all(path.read_bytes().startswith(b"\xef\xbb\xbf") for path in files)
    assert _run(tmp_path, dataset, *args, "--features", features, "--out", tmp_path / "saved") == 0
    written = sorted(p.relative_to(tmp_path / "plain") for p in (tmp_path / "plain").rglob("*.npy"))
    assert written and written == sorted(p.relative_to(tmp_path / "saved") for p in (tmp_path / "saved").rglob("*.npy"))
    for rel in ["data_info.json"] + [str(p) for p in written if p.parts[0] == "target_perframe"]:
        assert (tmp_path / "plain" / rel).read_bytes() == (tmp_path / "saved" / rel).read_bytes(), rel


def test_class_list_and_split_with_a_byte_order_mark(epic100, tmp_path):
    ann, features = epic100
    class_list = tmp_path / "classes.txt"
    class_list.write_text("background\nopen tap\nput plate\ntake plate\n")
    info = _data_info(tmp_path / "data_info.json", _entry(["P02_01"], ["P01_01"]))
    _excel_saved([class_list, info])
    out = tmp_path / "EK100"
    assert _run(tmp_path, "epic100", "--annotations", ann, "--features", features, "--fps", 4, "--out", out,
                "--class-order", class_list, "--split-from", info) == 0
    written = json.loads((out / "data_info.json").read_text())
    assert written["class_names"] == ["background", "open tap", "put plate", "take plate"]
    assert (written["train_session_set"], written["test_session_set"]) == (["P02_01"], ["P01_01"])


def test_a_file_not_in_utf8_is_named(own, tmp_path, capsys):
    ann, features = own
    (ann / "mine.csv").write_bytes("video,start,end,label\na,0,1,café\nb,0,1,stir\n".encode("cp1252"))
    assert _run(tmp_path, "own", "--annotations", ann / "mine.csv", "--features", features, "--out", tmp_path / "o") == 2
    # é is byte 0xe9 in Windows-1252, after the 22 bytes of the header and the 9 of "a,0,1,caf"
    assert (f"{ann / 'mine.csv'}:2: not UTF-8 text (invalid continuation byte at byte 31); save the file as UTF-8"
            in capsys.readouterr().err)
    _excel_saved([ann / "mine.csv"])  # 3 bytes of byte-order mark and a CR before it now
    assert _run(tmp_path, "own", "--annotations", ann / "mine.csv", "--features", features, "--out", tmp_path / "o") == 2
    assert f"{ann / 'mine.csv'}:2: not UTF-8 text (invalid continuation byte at byte 35)" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# COIN: a report, nothing else
# ---------------------------------------------------------------------------------------------

def test_coin_is_checked_and_reported_not_converted(tmp_path, capsys):
    root = tmp_path / "COIN"
    features = _features(root / "features", {"v1": 8, "v2": 4}, fps=2, dim=4)
    database = {"v1": {"subset": "training", "class": "make tea",
                       "annotation": [{"segment": [1.0, 4.4], "label": "boil"}]},       # end frame 9 > 8: clipped
                "v2": {"subset": "testing", "class": "make tea", "annotation": [{"segment": [0, 1], "label": "pour"}]},
                "v3": {"subset": "training", "class": "make tea", "annotation": []}}    # no features: skipped
    (root / "COIN.json").write_text(json.dumps({"database": database}))
    out = tmp_path / "report"
    assert _run(tmp_path, "coin", "--annotations", root / "COIN.json", "--features", features, "--out", out,
                "--clip-frames", 1) == 0
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["convert_report.json"]
    report = json.loads((out / "convert_report.json").read_text())
    assert report["videos"] == {"train": 1, "test": 1} and report["fps"] == 2.0
    assert report["dropped_videos"][0]["video"] == "v3" and report["clipped_segments"][0]["end_frame"] == 9
    assert "clipped segments: 1" in capsys.readouterr().out
    assert json.loads((root / "COIN.json").read_text()) == {"database": database}  # untouched
    with pytest.warns(UserWarning, match="skipped 1 video"):
        assert len(read_coin(root, missing_features="skip", clip_frames=1).videos) == 2  # as the report says
