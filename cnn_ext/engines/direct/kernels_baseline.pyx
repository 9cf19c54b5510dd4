"""Direct convolution kernels compiled for portable C for the platform's baseline instruction set (SSE2 on x86-64, NEON on arm64).

See cnn_ext/engines/direct/direct_conv.h for the kernels and cnn_ext/engines/direct/kernels.pxi for their contract.
"""

include "kernels.pxi"
