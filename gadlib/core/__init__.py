"""The thin core: the MLLM backbone, the three classifiers behind one interface, and the training loop.

Read in this order: prompts (the questions), backbone (LM + connector + [CLS]), classifier (the
interface: `loss`, `predict`), discriminative, label_spaces and generative (with class_scoring,
exact scoring, not in the paper), gad, methods (build one by name), training (the loop),
checkpoint. It imports nothing else of gadlib (tests/test_imports.py): everything around it,
data, language models, evaluation, lessons and tools, imports it.
"""
