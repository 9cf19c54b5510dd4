"""The book's ``dataset`` package on cnn-ext: ``dataset.mnist.load_mnist``."""

