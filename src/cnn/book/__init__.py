"""The book *Deep Learning from Scratch* (ゼロから作る Deep Learning) on cnn-ext.

- ``python -m cnn.book SCRIPT`` (or ``cnn-book SCRIPT``) runs one of the book's programs
  unchanged: its ``common`` and ``dataset`` imports resolve to :mod:`cnn.book.common` and
  :mod:`cnn.book.dataset`, modules with the book's names, signatures and float64 arithmetic
  that compute on cnn-ext's compiled kernels (see :mod:`cnn.book.runner`).
- :func:`load_params` reads the weights a book network saved (``params.pkl``) without running
  any code from the file; ``cnn.models.DeepConvNet.from_book_params`` and
  ``SimpleConvNet.from_book_params`` turn them into cnn-ext models.

The guide "Coming from the book" (docs/guides/from-the-book.md) maps the book's calls to
cnn-ext's own.
"""

from cnn.book.params_file import BookParamsError, load_params
from cnn.book.precision import compute_dtype, set_compute_dtype

__all__ = ["load_params", "BookParamsError", "compute_dtype", "set_compute_dtype"]
