"""The vector instruction sets this CPU and its operating system support (cnn_ext/engines/direct/cpu_features.h)."""

cdef extern from "cpu_features.h":
    int cnn_cpu_features()


def cpu_features() -> dict[str, bool]:
    """``{"avx2": ..., "avx512": ...}``: AVX2 with FMA, and AVX-512F, usable here."""
    cdef int features = cnn_cpu_features()
    return {"avx2": bool(features & 1), "avx512": bool(features & 2)}
