"""gadlib: generative vs discriminative MLLM action classifiers, and GAD, at laptop scale.

Start with notebooks/01_generative_vs_discriminative.ipynb. One module per paper concept:
backbone (LM + connector + [CLS]), label_spaces (text/rand/desync/extend), generative,
discriminative, gad, classifier (the shared interface), methods (build any of them), train,
checkpoint, metrics, timing; data: benchmark (synthetic), datasets (COIN / OAD layouts),
samples (step, next-step, task, OAD windows); notebook helpers: experiment, plots, widgets, results.
"""
__version__ = "0.1.0"
