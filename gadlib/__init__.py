"""gadlib: generative vs discriminative MLLM action classifiers, and GAD, at laptop scale.

Start with notebooks/00_the_paper_in_one_page.ipynb (the terms), then
notebooks/01_generative_vs_discriminative.ipynb. The folders are the layers, each importing only
those above it in this list:
  core/        the thin core: backbone (LM + connector + [CLS]), the generative, discriminative and
               GAD classifiers behind one interface, label spaces, the training loop, checkpoints
  data/        videos and samples, the synthetic benchmark, real layouts, readers, converters, features
  lms/         the embedded tiny Llama and its pretraining; building a classifier on any LM by name
  evaluation/  experiments over seeds, OAD evaluation, streaming, metrics, intervals, diversity, results
  lessons/     figures, explorers and graded exercises for the notebooks
  tools/       the training CLI, the main job, README tables, course tooling
The modules at the top level are the commands: `python -m gadlib.train`, `gadlib.run_notebooks`,
`gadlib.course`, `gadlib.convert`, `gadlib.compare`, `gadlib.diversity`, `gadlib.features`,
`gadlib.pretrain`, `gadlib.readme_table`.
"""
__version__ = "0.1.0"
