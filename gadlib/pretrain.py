"""`python -m gadlib.pretrain`: the command line of gadlib/lms/pretrain.py."""
from gadlib.lms.pretrain import main

if __name__ == "__main__":
    main()
