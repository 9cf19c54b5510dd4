"""Train the notebook's LeNet on MNIST and report the test accuracy, from a clone.

    python examples/train_lenet.py                                # full training set
    python examples/train_lenet.py --train-size 500 --epochs 20   # the notebook's experiment

The job itself is cnn.train (also the command cnn-train and python -m cnn.train, with the same
flags); this script only makes it read the repository's data/mnist, so it runs offline.
"""

import sys
from pathlib import Path

from cnn.train import main

REPOSITORY_DATA = Path(__file__).resolve().parents[1] / "data" / "mnist"

if __name__ == "__main__":
    sys.exit(main(default_data_dir=REPOSITORY_DATA))
