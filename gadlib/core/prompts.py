"""The questions the MLLM is asked, one per sample kind, and which label space each kind uses.

The prompts are the paper's plain questions (notebooks/01_generative_vs_discriminative.ipynb).
"""

PROMPTS = {"step": "What is the action in the video?",
           "next": "What is the next action for the video?",
           "task": "What is the overall activity in the video?",
           "oad": "What is the action in the last frame?"}

COIN_KINDS = ("step", "next", "task")  # the offline tasks, trained jointly on COIN

# Which classifier head / label space a sample kind uses: recognition and forecasting share
# the step head, as in the paper.
LABEL_SET_OF_KIND = {"step": "steps", "next": "steps", "task": "tasks", "oad": "oad"}
