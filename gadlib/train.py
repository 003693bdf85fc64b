"""`python -m gadlib.train --config FILE [--section.field value ...]`: train and evaluate one run.

Only the entry point: the command line is `gadlib.cli`, the training loop `gadlib.training`.
Kept apart so that the library never imports its own front end (configs/README.md lists the fields).
"""
from gadlib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
