"""Milliseconds per training step (batch 64, coin-like, 15 steps after 3 of warm-up) of the
discriminative, GAD and generative classifiers: run it under two settings in turn to compare
their cost, e.g. the pinned code path against the libraries' own choice:

    for r in 1 2 3; do python benchmarks/step_time.py; MKL_CBWR=AVX2 ATEN_CPU_CAPABILITY=avx2 python benchmarks/step_time.py; done

Measured at load ~1.3 on a 2-core AMD EPYC (AVX2, MKL), three alternating runs: default
discriminative 51-69 ms, GAD 127-144, generative 79-95; pinned 49-64, 151-168, 71-96.
"""
import time, torch
from gadlib.core.backbone import BackboneConfig
from gadlib.core.classifier import collate
from gadlib.data.benchmark import generate_benchmark, preset
from gadlib.data.samples import label_names, step_recognition_samples
from gadlib.lms.build import build_classifier
torch.manual_seed(0)
data = generate_benchmark(preset("coin_like", videos_per_task=16))
samples = step_recognition_samples(data, "train", 4)[:64]
out = {}
for method in ("discriminative", "gad", "generative"):
    clf = build_classifier(method, {"steps": label_names(data, "steps"), "tasks": label_names(data, "tasks")}, data.feature_dim, seed=0)
    opt = torch.optim.AdamW([p for p in clf.parameters() if p.requires_grad], lr=1e-3)
    batch = collate(samples)
    for i in range(3):
        opt.zero_grad(); clf.loss(batch).backward(); opt.step()
    t = time.perf_counter()
    for i in range(15):
        opt.zero_grad(); clf.loss(batch).backward(); opt.step()
    out[method] = round(1000 * (time.perf_counter() - t) / 15, 1)
print(out)
