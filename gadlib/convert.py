"""`python -m gadlib.convert`: the command line of gadlib/data/convert.py."""
from gadlib.data.convert import main

if __name__ == "__main__":
    raise SystemExit(main())
