"""The book's ``dataset`` package on cnn-ext: ``dataset.mnist.load_mnist``."""

#: The modules a book program may import as ``dataset.<name>``.
MODULES = ("mnist",)
