"""`python -m gadlib.features`: the command line of gadlib/data/features.py."""
from gadlib.data.features import main

if __name__ == "__main__":
    raise SystemExit(main())
