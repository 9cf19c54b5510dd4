"""Direct convolution kernels compiled for AVX-512F.

See cnn_ext/engines/direct/direct_conv.h for the kernels and cnn_ext/engines/direct/kernels.pxi for their contract.
"""

include "kernels.pxi"
