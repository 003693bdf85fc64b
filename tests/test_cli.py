"""The config-driven entry point `python -m gadlib.train --config FILE [--section.field value]`."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gadlib.tools.cli import DataConfig, load_config, load_data, main, parse_overrides, run_args, task_kinds, task_samples
from gadlib.core.backbone import BackboneConfig
from gadlib.lms.build import load_classifier
from gadlib.tools.run_config import EvalConfig, run_key
from gadlib.core.training import TrainConfig, evaluate

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs" / "smoke.yaml")
# A few steps of the smoke config: 1 epoch on the first videos.
TINY = ["--train.epochs", "1", "--data.max_train_videos", "10", "--data.max_test_videos", "6"]


def test_overrides_are_typed_and_nested():
    cfg = load_config(SMOKE, ["--train.epochs", "3", "--train.lr=1e-4", "--train.gradient_checkpointing", "true",
                              "--data.kinds", "[step, task]", "--seeds", "[1, 2]", "--backbone", "some/model",
                              "--output-dir", "/tmp/x", "--method_kwargs", "{lam: 0.5}", "--data.size", "gpu"])
    assert cfg.train.epochs == 3 and isinstance(cfg.train.epochs, int)
    assert cfg.train.lr == 1e-4 and isinstance(cfg.train.lr, float)
    assert cfg.train.gradient_checkpointing is True
    assert cfg.data.kinds == ["step", "task"] and cfg.seeds == [1, 2] and cfg.data.size == "gpu"
    assert cfg.backbone.name == "some/model" and cfg.output_dir == "/tmp/x"
    assert cfg.method_kwargs == {"lam": 0.5}
    assert cfg.name == "smoke" and cfg.method == "gad"  # untouched values come from the file
    assert load_config(SMOKE, ["--train.lr", "null"]).train.lr is None
    assert load_config(SMOKE, ["--seeds", "4"]).seeds == [4]


def test_yaml_values_are_typed_too(tmp_path):
    (tmp_path / "c.yaml").write_text("train: {lr: 1e-4, epochs: 2}\nbackbone: {lora: null}\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.train.lr == 1e-4 and cfg.name == "c"  # YAML 1.1 reads 1e-4 as a string
    (tmp_path / "bad.yaml").write_text("train: {epochs: 2.5}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: train.epochs must be int, got 2.5"):
        load_config(tmp_path / "bad.yaml")


@pytest.mark.parametrize("argv,message", [
    (["--train.epoch", "3"], r"unknown config key 'train.epoch'.*'epochs'"),
    (["--learning_rate", "3"], r"unknown config key 'learning_rate'"),
    (["--train.epochs", "two"], r"train.epochs must be int, got 'two'"),
    (["--train.gradient_checkpointing", "maybe"], r"train.gradient_checkpointing must be bool"),
    (["--train.epochs"], r"--train.epochs needs a value"),
    (["epochs", "3"], r"expected --key value"),
    (["--train", "3"], r"train must be a mapping"),
])
def test_bad_overrides_name_the_key(argv, message):
    with pytest.raises(ValueError, match=message):
        load_config(SMOKE, argv)


def test_unknown_keys_in_the_file_are_named(tmp_path):
    (tmp_path / "c.yaml").write_text("data: {preset: coin_like, frames: 4}\n")
    with pytest.raises(ValueError, match=r"c.yaml: unknown config key 'data.frames'"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(FileNotFoundError, match="no config file"):
        load_config(tmp_path / "missing.yaml")


def test_parse_overrides_nests_sections():
    assert parse_overrides(["--a.b", "1", "--a.c=2", "--backbone", "x"]) == {"a": {"b": "1", "c": "2"},
                                                                          "backbone": {"name": "x"}}


# Every one of these fails before any data is read: the data path does not exist, and the error
# names the field at fault, not the path.
NO_DATA = ["--data.path", "/nonexistent/data"]


@pytest.mark.parametrize("argv,message", [
    (["--method", "discriminative"], r"method_kwargs \{'lam': 1.0\} do not fit method 'discriminative': it "
                                     r"takes no argument 'lam'"),
    (["--method", "generativ"], r"method = 'generativ' is not one of \['discriminative', 'gad', 'generative'\]"),
    (["--method", "generative", "--method_kwargs", "{mapping: desinc}"],
     r"method_kwargs.mapping \(method 'generative'\) = 'desinc' is not one of \['text', 'rand', 'desync', 'extend'\]"),
    (["--method_kwargs", "{generate: contxt}"], r"method_kwargs.generate \(method 'gad'\) = 'contxt'"),
    (["--method_kwargs", "{readout: last}"], r"method_kwargs.readout \(method 'gad'\) = 'last'"),
    (["--method_kwargs", "{order: gen_first, generate: label}"], r"order='gen_first' with generate='label'"),
    (["--method_kwargs", "{lam: high}"], r"method_kwargs.lam must be float, got 'high'"),
    (["--method_kwargs", "{background_weight: 0.5}"], r"set data.background_weight instead"),
    (["--eval.decodings", "[greedy, exat]"], r"eval.decodings = 'exat' is not one of \['greedy', 'exact'\]"),
    (["--train.mixed_precision", "bf61"], r"train.mixed_precision = 'bf61' is not one of"),
    (["--trian.epochs", "1"], r"unknown config key 'trian'"),
    (["--data.windw", "1"], r"unknown config key 'data.windw'"),
    (["--data.window", "0"], r"data: window must be >= 1"),
    (["--data.num_frames", "al"], r"data.num_frames must be an int >= 1, or 'all' / null"),
    (["--data.kinds", "[oad, step]"], r"data.kinds must be some of"),
    (["--train.seed", "3"], r"train.seed is set by the run"),
    (["--eval-only"], r"--eval-only and --checkpoint DIR go together"),
])
def test_a_bad_config_fails_in_one_line_before_any_data_is_read(argv, message, tmp_path, capsys):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        run_args(["--config", SMOKE, "--output-dir", str(tmp_path), *NO_DATA, *argv])
    assert main(["--config", SMOKE, "--output-dir", str(tmp_path), *NO_DATA, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m gadlib.train: error: ") and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())  # nothing written


def test_the_entry_point_exits_2_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gadlib.train", "--config", SMOKE, "--eval.decodings", "exat",
                           "--output-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def test_help_lists_every_section_and_field_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for section, cls in (("data", DataConfig), ("backbone", BackboneConfig), ("train", TrainConfig),
                         ("eval", EvalConfig)):
        assert f"section {section} " in out
        for f in dataclasses.fields(cls):
            if f.name in ("seed", "checkpoint_dir", "log_dir"):
                continue  # set by the run
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            assert re.search(rf"--{section}\.{f.name} .* default {re.escape(repr(default))}\n", out), f.name
    assert re.search(r"--method_kwargs +dict +default \{\}", out) and "--overwrite" in out and "--eval-only" in out


def test_run_keys_name_the_method_and_its_mapping():
    assert run_key("generative", {"mapping": "desync"}) == "generative_desync"
    assert run_key("generative", {"mapping": "text", "decoding": "exact"}) == "generative"
    assert run_key("gad", {"lam": 1.0}) == "gad" and run_key("gad", {"order": "gen_first"}) == "gad_gen_first"
    assert run_key("discriminative", {}) == "discriminative"


def test_a_placeholder_data_path_is_a_clear_error():
    cfg = load_config(ROOT / "configs" / "coin_real.yaml")
    with pytest.raises(FileNotFoundError, match=r"data.path /path/to/COIN does not exist"):
        load_data(cfg.data)


def _check_results_match_the_checkpoint(out: Path, payload: dict, method: str):
    """results.json holds what the saved checkpoint predicts: reload it and evaluate again."""
    out = out / method
    saved = json.loads((out / "results.json").read_text())
    assert saved["metrics"] == payload["metrics"]
    assert {"config", "profile", "backbone", "dataset", "seeds", "settings", "metrics", "timing",
            "num_processes"} <= set(saved)
    classifier = load_classifier(out / "checkpoint")
    data_cfg = DataConfig(**saved["settings"]["data"])
    dataset, layout = load_data(data_cfg)
    kinds = task_kinds(data_cfg, layout)
    test = task_samples(dataset, data_cfg, kinds, "test")
    again = evaluate(classifier, test)
    for kind in kinds:
        for metric in ("top1", "top5"):
            assert saved["metrics"][method][f"{kind}_{metric}"]["per_seed"] == [again[kind]["metrics"][metric]]
    return saved


def test_smoke_config_end_to_end(tmp_path):
    out = tmp_path / "run"
    payload = run_args(["--config", SMOKE, "--output-dir", str(out), *TINY])
    saved = _check_results_match_the_checkpoint(out, payload, "gad")
    assert saved["config"] == "smoke" and saved["seeds"] == [0] and saved["num_processes"] == 1
    assert saved["backbone"] == "tiny Llama (random init, embedded)"
    assert saved["dataset"] == "coin_like (cpu size, synthetic)" and saved["kinds"] == ["step", "next", "task"]
    assert set(saved["metrics"]["gad"]) == {f"{k}_{m}" for k in ("step", "next", "task")
                                            for m in ("top1", "top5", "balanced_top1")}
    assert saved["timing"]["gad"]["peak_gpu_memory_gib"] == [None]  # CPU
    assert saved["settings"]["train"]["epochs"] == 1
    assert sorted(p.name for p in (out / "gad").iterdir()) == ["checkpoint", "logs", "predictions.npz", "results.json"]


def test_backbone_override_loads_a_local_bf16_llama(tmp_path):
    """`--backbone FOLDER`: a tiny Llama saved in bf16 with `save_pretrained` and a tokenizer with
    a chat template. It is a pretrained model to gadlib: LoRA, lr 1e-4, loaded in float32 on CPU."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    from gadlib.core.backbone import BackboneConfig
    from gadlib.lms.build import load_tokenizer

    folder = tmp_path / "tiny-llama"
    tokenizer = load_tokenizer(BackboneConfig())
    assert tokenizer.chat_template
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert AutoModelForCausalLM.from_pretrained(folder).dtype == torch.bfloat16  # really a bf16 checkpoint

    out = tmp_path / "run"
    payload = run_args(["--config", SMOKE, "--output-dir", str(out), "--backbone", str(folder), "--method",
                    "discriminative", "--method_kwargs", "{}", "--backbone.lora_r", "4", "--backbone.lora_alpha", "8", *TINY])
    saved = _check_results_match_the_checkpoint(out, payload, "discriminative")
    assert saved["backbone"] == str(folder)
    spec = json.loads((out / "discriminative" / "checkpoint" / "spec.json").read_text())
    assert spec["backbone"]["name"] == str(folder) and spec["backbone"]["dtype"] == "float32"
    assert spec["backbone"]["lora_r"] == 4
    from safetensors.torch import load_file

    weights = load_file(out / "discriminative" / "checkpoint" / "model.safetensors")
    assert any("lora_A" in k for k in weights) and not any(k.endswith("q_proj.base_layer.weight") for k in weights)


def test_oad_layout_folder_trains_oad(tmp_path):
    """A user's folder in the OAD layout (data_info.json + target_perframe/): per-frame samples."""
    from gadlib.data.benchmark import generate_benchmark, preset
    from gadlib.data.datasets import write_oad

    data = generate_benchmark(preset("thumos_like", num_classes=6, num_tasks=2, steps_per_task=(3, 4), videos_per_task=4,
                                        test_fraction=0.25))
    write_oad(data, tmp_path / "oad")
    out = tmp_path / "run"
    payload = run_args(["--config", SMOKE, "--output-dir", str(out), "--data.path", str(tmp_path / "oad"),
                    "--method", "discriminative", "--method_kwargs", "{}", "--train.epochs", "1", "--data.stride", "4"])
    assert payload["kinds"] == ["oad"] and payload["profile"] == "custom"
    # dense evaluation with the paper's OAD metrics, and the saved checkpoint predicts the same
    from gadlib.tools.cli import OAD_METRICS, oad_config
    from gadlib.evaluation.oad import evaluate_oad

    assert set(payload["metrics"]["discriminative"]) == {f"oad_{m}" for m in OAD_METRICS}
    classifier = load_classifier(out / "discriminative" / "checkpoint")
    assert list(classifier.label_names) == ["oad"] and classifier.label_names["oad"][0] == "background"
    assert classifier.background_weight == 1.0
    dataset, _ = load_data(DataConfig(**payload["settings"]["data"]))
    again = evaluate_oad(classifier, dataset, "test", oad_config(DataConfig(**payload["settings"]["data"])))
    for m in OAD_METRICS[:-1]:  # fps is a wall-clock rate
        assert payload["metrics"]["discriminative"][f"oad_{m}"]["per_seed"] == [again["metrics"][m]]


def test_method_kwargs_from_the_command_line_are_converted_before_the_run():
    from gadlib.tools.run_config import validate_config

    cfg = load_config("configs/smoke.yaml", ["--method_kwargs.lam", "0.5"])
    assert cfg.method_kwargs == {"lam": "0.5"}  # as typed on the command line
    validate_config(cfg)
    assert cfg.method_kwargs == {"lam": 0.5} and isinstance(cfg.method_kwargs["lam"], float)
