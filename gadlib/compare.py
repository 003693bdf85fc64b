"""`python -m gadlib.compare`: the command line of gadlib/evaluation/compare.py."""
from gadlib.evaluation.compare import main

if __name__ == "__main__":
    raise SystemExit(main())
