# Backpropagation against numerical gradients, printed as the book's checks print them.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from tiny_nets import SmallConv, TwoLayers

(x_train, t_train), _ = load_mnist(normalize=True, one_hot_label=True)
flat = TwoLayers(input_size=784, hidden_size=8, output_size=10)
x, t = x_train[:3], t_train[:3]
numeric, backprop = flat.numerical_gradient(x, t), flat.gradient(x, t)
for key in numeric:
    print("two-layer " + key + ":" + str(np.average(np.abs(backprop[key] - numeric[key]))))

conv = SmallConv(input_dim=(1, 9, 9), filters=3, size=3, pad=1, stride=2, hidden=5,
                 weight_init_std=0.3)
X = np.random.rand(2, 1, 9, 9)
T = np.array([1, 7])
numeric, backprop = conv.numerical_gradient(X, T), conv.gradient(X, T)
for key in numeric:
    print("conv " + key + ":" + str(np.abs(numeric[key] - backprop[key]).mean()))
