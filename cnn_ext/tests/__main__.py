"""``python -m cnn_ext.tests [pytest arguments]``: run the kernel tests against this installation."""

import sys

from cnn_ext.tests import run

if __name__ == "__main__":
    try:
        sys.exit(run(sys.argv[1:]))
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
