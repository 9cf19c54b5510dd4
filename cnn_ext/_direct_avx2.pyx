"""Direct convolution kernels compiled for AVX2 with FMA.

See cnn_ext/simd/direct_conv.h for the kernels and cnn_ext/_direct.pxi for their contract.
"""

include "_direct.pxi"
