"""`python -m gadlib.course`: the command line of gadlib/tools/course.py."""
from gadlib.tools.course import main

if __name__ == "__main__":
    raise SystemExit(main())
