"""``python -m cnn.demo``: the same as ``cnn-demo``."""

import sys

from cnn.demo.cli import main

sys.exit(main())
