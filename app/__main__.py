"""`python -m app`: the jobline command (child processes skip re-running a `__main__` module)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
