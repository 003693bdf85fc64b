"""`python -m gadlib.run_notebooks`: the command line of gadlib/tools/run_notebooks.py."""
from gadlib.tools.run_notebooks import main

if __name__ == "__main__":
    raise SystemExit(main())
