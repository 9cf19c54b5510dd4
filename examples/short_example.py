import cnn
from cnn.datasets import load_mnist
from cnn.models import LeNet
from cnn.optim import Adam
from cnn.trainer import Trainer

(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)   # a clone's data/mnist, or downloads once
model = LeNet(seed=0)                                             # 107,786 parameters
Trainer(model, Adam(lr=0.002), batch_size=32).fit(x_train, t_train, epochs=3,
                                                  x_test=x_test, t_test=t_test)
model.save("lenet.npz")                                           # weights and architecture
restored = cnn.load_model("lenet.npz")                            # a LeNet again, with no code
print(restored.predict_classes(x_test[:10]), t_test[:10])
