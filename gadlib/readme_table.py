"""`python -m gadlib.readme_table`: the command line of gadlib/tools/readme_table.py."""
from gadlib.tools.readme_table import main

if __name__ == "__main__":
    raise SystemExit(main())
