"""The convolution engines behind ``cnn_ext.conv2d_forward``/``conv2d_backward``: unfold
(``unfold`` over ``unfold_loops``), depthwise (``depthwise`` over ``depthwise_loops``) and
direct (``direct``), each with ``forward(x, W, b, geometry)`` and ``backward(x, W, dout,
geometry, input_grad)`` of checked arrays; ``cnn_ext.convolution.choose_engine`` routes."""
