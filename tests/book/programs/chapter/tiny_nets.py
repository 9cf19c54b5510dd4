# Networks in the style of the book's chapter files, built on its common package.
import sys, os
sys.path.append(os.pardir)
from collections import OrderedDict
import numpy as np
from common.layers import Affine, Convolution, Dropout, Pooling, Relu, SoftmaxWithLoss
from common.gradient import numerical_gradient


class StyleNet:
    """Layers in an OrderedDict, weights in self.params, as the book's networks keep them."""

    def predict(self, x, train_flg=False):
        for layer in self.layers.values():
            x = layer.forward(x, train_flg) if isinstance(layer, Dropout) else layer.forward(x)
        return x

    def loss(self, x, t, train_flg=True):
        return self.last_layer.forward(self.predict(x, train_flg), t)

    def accuracy(self, x, t):
        guesses = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(guesses == t) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        objective = lambda _: self.loss(x, t)
        return {key: numerical_gradient(objective, value) for key, value in self.params.items()}

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for name, layer in self.weighted.items():
            grads['W' + name], grads['b' + name] = layer.dW, layer.db
        return grads


class TwoLayers(StyleNet):
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {'W1': weight_init_std * np.random.randn(input_size, hidden_size),
                       'b1': np.zeros(hidden_size),
                       'W2': weight_init_std * np.random.randn(hidden_size, output_size),
                       'b2': np.zeros(output_size)}
        self.layers = OrderedDict()
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        self.layers['Relu1'] = Relu()
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])
        self.weighted = {'1': self.layers['Affine1'], '2': self.layers['Affine2']}
        self.last_layer = SoftmaxWithLoss()


class SmallConv(StyleNet):
    def __init__(self, input_dim=(1, 28, 28), filters=6, size=5, pad=0, stride=1, hidden=20,
                 output_size=10, weight_init_std=0.01, dropout=False):
        channels, height, width = input_dim
        out_h = (height + 2 * pad - size) // stride + 1
        out_w = (width + 2 * pad - size) // stride + 1
        pooled = filters * (out_h // 2) * (out_w // 2)
        self.params = {'W1': weight_init_std * np.random.randn(filters, channels, size, size),
                       'b1': np.zeros(filters),
                       'W2': weight_init_std * np.random.randn(pooled, hidden),
                       'b2': np.zeros(hidden),
                       'W3': weight_init_std * np.random.randn(hidden, output_size),
                       'b3': np.zeros(output_size)}
        self.layers = OrderedDict()
        self.layers['Conv1'] = Convolution(self.params['W1'], self.params['b1'], stride, pad)
        self.layers['Relu1'] = Relu()
        self.layers['Pool1'] = Pooling(pool_h=2, pool_w=2)
        self.layers['Affine1'] = Affine(self.params['W2'], self.params['b2'])
        self.layers['Relu2'] = Relu()
        if dropout:
            self.layers['Dropout1'] = Dropout(0.3)
        self.layers['Affine2'] = Affine(self.params['W3'], self.params['b3'])
        self.weighted = {'1': self.layers['Conv1'], '2': self.layers['Affine1'],
                         '3': self.layers['Affine2']}
        self.last_layer = SoftmaxWithLoss()
