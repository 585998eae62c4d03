"""``python -m nnexp``: see :mod:`nnexp.cli`."""

import sys

from nnexp.cli import main

if __name__ == "__main__":
    sys.exit(main())
