"""Typed loops behind ``cnn_ext.relu``, ``cnn_ext.add_relu`` and ``cnn_ext.relu_backward``.

These kernels trust their arguments: the Python wrappers in ``cnn_ext.kernels``
check that the arrays are flat views of C-contiguous arrays of one shape and
dtype, and allocate the outputs. Each is one pass without branches, which the
compiler vectorises.
"""

from cython cimport floating


def relu_kernel(
    const floating[::1] x,  # IN
    floating[::1] out,  # OUT, same length
):
    """``out = max(x, 0)``; a NaN stays NaN (``not (v <= 0)`` is true for NaN)."""
    cdef Py_ssize_t i
    cdef floating value
    with nogil:
        for i in range(x.shape[0]):
            value = x[i]
            out[i] = 0 if value <= 0 else value


def add_relu_kernel(
    const floating[::1] a,  # IN
    const floating[::1] b,  # IN, same length
    floating[::1] out,  # OUT, same length (may be a or b)
):
    """``out = max(a + b, 0)``; a NaN sum stays NaN."""
    cdef Py_ssize_t i
    cdef floating value
    with nogil:
        for i in range(a.shape[0]):
            value = a[i] + b[i]
            out[i] = 0 if value <= 0 else value


def relu_backward_kernel(
    const floating[::1] dout,  # IN
    const floating[::1] out,  # IN, the forward result, same length
    floating[::1] dx,  # OUT, same length
):
    """``dx = dout where out > 0, else 0``."""
    cdef Py_ssize_t i
    cdef floating gradient
    with nogil:
        for i in range(dout.shape[0]):
            gradient = dout[i]  # loaded unconditionally, so the select needs no branch
            dx[i] = gradient if out[i] > 0 else 0
