"""``python -m cnn.book SCRIPT [ARGS...]``: see :mod:`cnn.book.runner`."""

import sys

from cnn.book.runner import main

sys.exit(main())
