"""The direct engine: ``engine`` over the C kernels of ``direct_conv.h``, compiled once per
instruction set (``kernels_baseline``, ``kernels_avx2``, ``kernels_avx512``, each including
``kernels.pxi``); ``cpu`` asks the CPU and the OS what they support, and ``dispatch`` imports
the best module (``CNN_EXT_SIMD`` forces a lower one)."""
