"""`python -m gadlib.train --config FILE [--section.field value ...]`: train and evaluate one run
(the command line of gadlib/tools/cli.py; configs/README.md lists the fields)."""
from gadlib.tools.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
