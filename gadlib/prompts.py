"""The questions the MLLM is asked, one per sample kind, and which label space each kind uses.

A module of its own because both the data side (`gadlib.samples` builds samples of these kinds)
and the model side (`gadlib.backbone` renders the prompts through the chat template, the
classifiers pick a head per label space) need them, and neither should import the other for it.
The prompts are the paper's plain questions (notebooks/01_generative_vs_discriminative.ipynb).
"""

PROMPTS = {"step": "What is the action in the video?",
           "next": "What is the next action for the video?",
           "task": "What is the overall activity in the video?",
           "oad": "What is the action in the last frame?"}

# Which classifier head / label space a sample kind uses: recognition and forecasting share
# the step head, as in the paper.
LABEL_SET = {"step": "steps", "next": "steps", "task": "tasks", "oad": "oad"}
