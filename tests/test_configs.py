"""Every run config in configs/ runs: a few steps on small synthetic data, with the embedded tiny
LM in place of the real backbone, through `python -m gadlib.train`'s own `run_args`.

What stays from each config: its method, tasks (kinds), OAD window / long context / stride /
background weight, LoRA-free training loop settings (batch, accumulation, warmup, gradient
checkpointing). What is replaced: the data (`--data.path null`: the config's synthetic preset at
cpu size, 2 training videos), the backbone, epochs and mixed precision. The paper configs'
expected numbers are checked to name metrics the run reports, so they can be compared.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gadlib.tools.cli import load_config, run_args
from gadlib.core.methods import METHODS
from gadlib.tools.run_config import run_key

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
SMALL = ["--data.path", "null", "--data.size", "cpu", "--backbone", "embedded-tiny-llama-scratch",
         "--train.epochs", "1", "--train.mixed_precision", "no", "--train.progress", "false",
         "--train.checkpoint_every", "0", "--data.max_train_videos", "2", "--data.max_test_videos", "1",
         "--eval.batch_size", "64", "--eval.decodings", "[greedy]"]


def test_there_is_a_config_per_paper_setting():
    names = {p.stem for p in CONFIGS}
    assert {"paper_coin_1b", "paper_thumos", "paper_crosstask", "paper_ek100", "paper_goalstep"} <= names


# The authors' OAD protocol, from their training scripts (issue 18's table): window, background
# weight, epochs, GAD target, feature size fed; for all four: 128 long-context frames every one fed,
# stride = window, shorter windows at the start, loss mean over the batch, batch 16 x 2, lr 1e-4,
# warmup 10 %, no weight decay, LoRA r 128 / alpha 256 / dropout 0.05.
AUTHORS_OAD = {"paper_thumos": (32, 1.0, 50, "current", "rgb_kinetics_resnet50"),
               "paper_crosstask": (20, 0.2, 50, "current_and_other", "dinov2_vitg14"),
               "paper_ek100": (20, 0.5, 50, "current_and_other", "rgb_kinetics_bninception"),
               "paper_goalstep": (16, 0.5, 20, "current_and_other", "dinov2_vitg14")}


@pytest.mark.parametrize("name", sorted(AUTHORS_OAD))
def test_paper_oad_configs_carry_the_authors_values(name):
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / f"{name}.yaml")
    window, background, epochs, context, features = AUTHORS_OAD[name]
    d, t, b = cfg.data, cfg.train, cfg.backbone
    assert (d.window, d.background_weight, t.epochs, d.oad_context, d.features) == AUTHORS_OAD[name]
    assert (d.long_context, d.long_tokens, d.stride, d.start, d.loss_norm) == (128, 128, window, "short", "batch")
    assert (t.batch_size, t.grad_accum, t.lr, t.warmup, t.weight_decay) == (16, 2, 1e-4, 0.1, 0.0)
    assert (b.lora_r, b.lora_alpha, b.lora_dropout) == (128, 256, 0.05)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_runs_a_few_steps(path, tmp_path):
    cfg = load_config(path)  # the file alone is valid
    payload = run_args(["--config", str(path), *SMALL, "--output-dir", str(tmp_path)])
    written = json.loads((tmp_path / cfg.method / "results.json").read_text())
    assert written["config"] == cfg.name and written["method"] == cfg.method
    assert written["settings"]["data"]["window"] == cfg.data.window  # the config's own settings ran
    assert written["settings"]["train"]["grad_accum"] == cfg.train.grad_accum
    metrics = payload["metrics"][cfg.method]
    assert (tmp_path / cfg.method / "checkpoint").is_dir()
    if cfg.data.kinds == ["oad"]:
        assert 0.0 <= metrics["oad_seg_f1_0.1"]["mean"] <= 1.0
    else:
        assert {f"{k}_top1" for k in cfg.data.kinds or ["step", "next", "task"]} <= set(metrics)
    # The paper's numbers use the keys of the results (`<kind>_<metric>`), and its method names
    # are run keys (`generative_desync`: --method generative --method_kwargs '{mapping: desync}').
    for method, numbers in cfg.paper.items():
        if method == "setting":
            continue
        base, _, mapping = method.partition("_")
        assert base in METHODS and run_key(base, {"mapping": mapping} if mapping else {}) == method, method
        for metric, value in numbers.items():
            assert metric in metrics, f"{path.name}: paper.{method}.{metric} is not a metric gadlib reports"
            assert value > 0 and (metric.endswith("fps") or value <= 1.0), f"{path.name}: {metric} should be a fraction"


def test_real_folder_options_reach_the_readers(tmp_path):
    """data.missing_features / clip_frames (COIN), data_info_key / mmap / "a,b" features (OAD)."""
    import numpy as np

    from gadlib.data.benchmark import BenchmarkConfig, generate_benchmark
    from gadlib.tools.cli import DataConfig, load_data
    from gadlib.data.datasets import write_coin, write_oad

    small = dict(num_classes=6, num_tasks=2, steps_per_task=(3, 4), videos_per_task=3, feature_dim=4, latent_dim=4)
    coin = generate_benchmark(BenchmarkConfig(**small))
    write_coin(coin, tmp_path / "coin")
    gone = coin.split("train")[1].video_id
    (tmp_path / "coin" / "features" / f"{gone}.npy").unlink()
    with pytest.raises(FileNotFoundError, match=f"{gone}.npy"):
        load_data(DataConfig(path=str(tmp_path / "coin")))
    with pytest.warns(UserWarning, match="skipped 1 video"):
        data, layout = load_data(DataConfig(path=str(tmp_path / "coin"), missing_features="skip", clip_frames=1))
    assert layout == "coin" and len(data.videos) == len(coin.videos) - 1
    # data.fps reaches read_coin: it must agree with meta.json's rate, or the labels would move
    with pytest.raises(ValueError, match="fps"):
        load_data(DataConfig(path=str(tmp_path / "coin"), missing_features="skip", fps=coin.fps * 2))
    (tmp_path / "coin" / "meta.json").unlink()   # no rate left anywhere: refused, then given
    with pytest.raises(ValueError, match="fps"):
        load_data(DataConfig(path=str(tmp_path / "coin"), missing_features="skip"))
    with pytest.warns(UserWarning, match="skipped 1 video"):
        data, _ = load_data(DataConfig(path=str(tmp_path / "coin"), missing_features="skip", clip_frames=1,
                                       fps=coin.fps))
    assert data.fps == coin.fps

    oad = generate_benchmark(BenchmarkConfig(**small, layout="oad"))
    root = tmp_path / "oad"
    write_oad(oad, root, feature_dir="rgb")
    (root / "flow").mkdir()
    for v in oad.videos:
        np.save(root / "flow" / f"{v.video_id}.npy", np.ones((len(v.features), 3), np.float32))
    info = json.loads((root / "data_info.json").read_text())
    (root / "data_info.json").write_text(json.dumps({"THUMOS": info, "Other": info}))
    with pytest.raises(ValueError, match="THUMOS"):  # several data sets and no key: the error lists them
        load_data(DataConfig(path=str(root), features="rgb"))
    data, layout = load_data(DataConfig(path=str(root), features="rgb,flow", data_info_key="THUMOS", mmap=True))
    assert layout == "oad" and data.feature_dim == 4 + 3
    np.testing.assert_array_equal(np.asarray(data.videos[0].features[:, 0, 4:]), 1.0)
