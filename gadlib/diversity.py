"""`python -m gadlib.diversity`: the command line of gadlib/evaluation/diversity.py."""
from gadlib.evaluation.diversity import main

if __name__ == "__main__":
    raise SystemExit(main())
