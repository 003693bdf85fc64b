"""The language models a classifier is built on: the embedded tiny Llama (its tokenizer, its
pretraining on the synthetic world's text) and real checkpoints by hub name or folder
(`build.build_classifier`, `build.load_classifier`)."""
