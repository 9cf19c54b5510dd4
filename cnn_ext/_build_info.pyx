"""How the compiled kernels were built (``CNN_EXT_DEBUG`` at build time)."""

cdef extern from *:
    """
    #ifndef CNN_EXT_DEBUG
    #define CNN_EXT_DEBUG 0
    #endif
    """
    int CNN_EXT_DEBUG

BOUNDS_CHECKED = CNN_EXT_DEBUG != 0
