"""An ESTIMATE of the GPU memory per process of a COIN training run, from parameter counts.

Nothing here is measured: no GPU, no Llama weights. The estimate adds up, per process,

- frozen LM weights in bf16 (2 bytes per parameter; counted from the architecture's sizes);
- trainable parameters in fp32: LoRA on q/k/v/o/gate/up/down (+ lm_head, as GAD trains an LM
  loss; `gadlib.lms.build.build_classifier`) - peft keeps adapters of a bf16 model in fp32 -
  plus the connector (2-layer MLP), the step and task heads and the [CLS] query; each
  trainable parameter costs 4 (weight) + 4 (gradient) + 8 (AdamW's two moments) bytes, and 4
  more for DDP's gradient buckets when there are several processes;
- activations at micro-batch `batch` of sequences of `seq_len` tokens (visual tokens + prompt +
  [CLS] + GAD's context) under gradient checkpointing: every decoder layer's input (bf16),
  plus one layer recomputed in the backward pass (the tensors its backward keeps, listed in
  `LAYER_BYTES_PER_TOKEN`), plus that layer's gradient buffers, the connector's activations and
  the LM head on the generated tokens only (gadlib never computes logits over the prefix).

Left out: the CUDA context (~0.5 GiB), the caching allocator's slack and fragmentation (often
10-20 %), NCCL buffers, and evaluation (run after training, with no gradients: smaller).
Attention is assumed to run in a fused kernel (SDPA flash / memory-efficient: memory linear in
the sequence); a fallback to the eager "math" kernel would add heads x L^2 scores per layer.

    PYTHONPATH=. python benchmarks/memory_estimate.py                      # the COIN 8B and 1B configs
    PYTHONPATH=. python benchmarks/memory_estimate.py --config configs/paper_coin_8b.yaml
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 2 ** 30


@dataclass(frozen=True)
class Arch:
    """The sizes of a Llama decoder that fix its parameter count (its config.json)."""
    hidden: int
    layers: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    tied: bool  # input embedding and LM head share one matrix

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def linears(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each adapted linear layer of one decoder layer."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        return {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
                "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}


# Meta-Llama-3-8B(-Instruct): hidden 4096, 32 layers, MLP 14336, vocabulary 128256, 32 query and
# 8 key/value heads, untied LM head. Llama-3.2-1B(-Instruct): 2048, 16, 8192, 128256, 32 / 8, tied.
ARCHS = {
    "meta-llama/Meta-Llama-3-8B-Instruct": Arch(4096, 32, 14336, 128256, 32, 8, tied=False),
    "meta-llama/Llama-3.2-1B-Instruct": Arch(2048, 16, 8192, 128256, 32, 8, tied=True),
}

# COIN: ~778 step classes and 180 tasks (the paper notes: ~750-780 steps); SigLIP features,
# 1024-d, 10 tokens per frame.
COIN_STEPS, COIN_TASKS, VISUAL_DIM, TOKENS_PER_FRAME = 778, 180, 1024, 10
PROMPT_TOKENS = 64   # an upper bound: chat template (Llama-3.2's system turn with its date) + question
CONTEXT_TOKENS = 32  # an upper bound on "<step>. <task>." + EOS (GADClassifier.max_context_tokens)


def base_parameters(a: Arch) -> int:
    """Every parameter of the LM: embeddings, LM head (unless tied), decoder layers, norms."""
    per_layer = sum(i * o for i, o in a.linears().values()) + 2 * a.hidden  # + two RMSNorm weights
    return a.vocab * a.hidden * (1 if a.tied else 2) + a.layers * per_layer + a.hidden


def lora_parameters(a: Arch, r: int, lm_head: bool = True) -> int:
    """LoRA's A (r x in) and B (out x r) for every adapted linear layer."""
    per_layer = sum(r * (i + o) for i, o in a.linears().values())
    return a.layers * per_layer + (r * (a.hidden + a.vocab) if lm_head else 0)


def other_trainable_parameters(a: Arch, visual_dim: int = VISUAL_DIM, classes: int = COIN_STEPS + COIN_TASKS) -> int:
    """Connector (Linear visual_dim->H, GELU, Linear H->H), the heads (one per label set) and [CLS]."""
    connector = visual_dim * a.hidden + a.hidden + a.hidden * a.hidden + a.hidden
    heads = classes * a.hidden + classes
    return connector + heads + a.hidden


def layer_bytes_per_token(a: Arch, r: int) -> dict[str, int]:
    """What the backward pass of one recomputed decoder layer keeps, bytes per token (bf16 = 2;
    the RMSNorms compute in fp32; LoRA dropout keeps its bf16 output and a 1-byte mask per adapted
    layer). Key/value heads are counted expanded to all heads (`repeat_kv`), an upper bound."""
    h, i, kv = a.hidden, a.intermediate, a.kv_dim
    return {
        "two RMSNorms (fp32 input and normalised, bf16 output)": 2 * (4 * h + 4 * h + 2 * h),
        "inputs of the frozen linears (normed x, attention out, MLP product)": 2 * h + 2 * h + 2 * h + 2 * i,
        "q, k, v and their rotated copies": 2 * (2 * h + 2 * kv) + 2 * kv,
        "k, v expanded to all heads": 2 * 2 * h,
        "attention output + log-sum-exp (fp32, per head)": 2 * h + 4 * a.heads,
        "MLP gate, up, SiLU(gate)": 3 * 2 * i,
        "LoRA dropout outputs + masks (6 layers on H, down_proj on I)": 6 * 3 * h + 3 * i,
        "LoRA A outputs (r per adapted layer)": 7 * 2 * r,
    }


@dataclass
class Estimate:
    name: str
    seq_len: int
    batch: int
    processes: int
    base_params: int
    lora_params: int
    other_params: int
    gib: dict  # part -> GiB

    @property
    def total_gib(self) -> float:
        return sum(self.gib.values())


def estimate(name: str, arch: Arch, lora_r: int, batch: int, frames: int, processes: int = 1,
             tokens_per_frame: int = TOKENS_PER_FRAME, prompt_tokens: int = PROMPT_TOKENS,
             context_tokens: int = CONTEXT_TOKENS, visual_dim: int = VISUAL_DIM,
             gradient_checkpointing: bool = True) -> Estimate:
    """GiB per process of one training step at micro-batch `batch`, every sample `frames` frames long."""
    if not gradient_checkpointing:
        raise ValueError("this estimate assumes gradient checkpointing (every paper COIN config uses it)")
    base, lora, other = base_parameters(arch), lora_parameters(arch, lora_r), other_trainable_parameters(arch, visual_dim)
    trainable = lora + other
    visual = frames * tokens_per_frame
    seq = visual + prompt_tokens + 1 + context_tokens  # + [CLS]
    tokens = batch * seq
    layer = sum(layer_bytes_per_token(arch, lora_r).values())
    h, i = arch.hidden, arch.intermediate
    parts = {
        "LM weights, bf16 (frozen)": 2 * base,
        "trainable weights, fp32 (LoRA + connector + heads + [CLS])": 4 * trainable,
        "their gradients, fp32": 4 * trainable,
        "AdamW moments, fp32 (2 per parameter)": 8 * trainable,
        "DDP gradient buckets, fp32": 4 * trainable if processes > 1 else 0,
        "checkpointed layer inputs, bf16 (layers + embeddings + final norm)": (arch.layers + 2) * tokens * h * 2,
        "one layer recomputed in the backward": tokens * layer,
        "that layer's gradient buffers (~ d gate, d up, 2 x d hidden)": tokens * (2 * 2 * i + 2 * 2 * h),
        "connector activations (fp32 input, bf16 hidden x 3)": batch * visual * (4 * visual_dim + 3 * 2 * h),
        "LM head on the context tokens (fp32 logits, log-softmax, gradient)": batch * context_tokens * arch.vocab * 4 * 3,
    }
    return Estimate(name, seq, batch, processes, base, lora, other, {k: v / GIB for k, v in parts.items()})


def from_config(path: str | Path) -> Estimate:
    """The estimate for a run config (`configs/paper_coin_*.yaml`): its backbone, LoRA r,
    micro-batch, frames (num_frames, or max_frames for every frame) and processes (2 for a
    config whose run line launches 2; read from the file's `# processes:` comment, default 1)."""
    from gadlib.tools.run_config import load_config
    from gadlib.data.samples import frames_setting

    cfg = load_config(path)
    arch = ARCHS.get(cfg.backbone.name)
    if arch is None:
        raise ValueError(f"{path}: no architecture sizes for backbone {cfg.backbone.name!r}; known: {sorted(ARCHS)}")
    n = frames_setting(cfg.data.num_frames, cfg.data.max_frames)
    processes = 1
    for line in Path(path).read_text().splitlines():
        if line.startswith("# processes:"):
            processes = int(line.split(":", 1)[1].split()[0])
    return estimate(Path(path).stem, arch, cfg.backbone.lora_r, cfg.train.batch_size,
                    cfg.data.max_frames if n is None else n, processes,
                    gradient_checkpointing=cfg.train.gradient_checkpointing)


def summary(e: Estimate) -> str:
    """One line: what the yaml comments and configs/README.md quote."""
    return (f"ESTIMATE {e.name}: ~{e.total_gib:.1f} GiB per process (batch {e.batch} x {e.seq_len} tokens, "
            f"{e.processes} process{'es' if e.processes > 1 else ''}; weights {e.gib['LM weights, bf16 (frozen)']:.1f}"
            f" + trainable/grads/AdamW{'/DDP' if e.processes > 1 else ''} {_optimizer_gib(e):.1f}"
            f" + activations {_activation_gib(e):.1f} GiB)")


def _optimizer_gib(e: Estimate) -> float:
    return sum(v for k, v in e.gib.items() if k.startswith(("trainable", "their", "AdamW", "DDP")))


def _activation_gib(e: Estimate) -> float:
    return e.total_gib - e.gib["LM weights, bf16 (frozen)"] - _optimizer_gib(e)


def report(e: Estimate) -> str:
    lines = [f"{e.name}: ESTIMATE, not measured",
             f"  parameters: LM {e.base_params:,} (bf16), LoRA {e.lora_params:,}, connector + heads + [CLS] "
             f"{e.other_params:,} (fp32)",
             f"  sequence: {e.seq_len} tokens, micro-batch {e.batch}, {e.processes} process(es)"]
    lines += [f"  {v:7.2f} GiB  {k}" for k, v in e.gib.items() if v]
    lines += [f"  {e.total_gib:7.2f} GiB  total per process (+ CUDA context ~0.5 GiB and allocator slack)",
              "  " + summary(e)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", nargs="+", default=[str(ROOT / "configs" / "paper_coin_8b.yaml"),
                                                        str(ROOT / "configs" / "paper_coin_1b.yaml")])
    args = parser.parse_args(argv)
    print("\n\n".join(report(from_config(path)) for path in args.config))


if __name__ == "__main__":
    main()
