"""The compiled loops of the public kernels (im2col, col2im, max pooling, ReLU): typed,
``nogil``, trusting their arguments, which ``cnn_ext.kernels`` checks and allocates."""
