# A short training run through the book's Trainer; weights saved with pickle as the book does.
import sys, os
sys.path.append(os.pardir)
import pickle
import matplotlib.pyplot as plt
from dataset.mnist import load_mnist
from common.trainer import Trainer
from tiny_nets import SmallConv

(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
x_train, t_train, x_test, t_test = x_train[:500], t_train[:500], x_test[:200], t_test[:200]
network = SmallConv(dropout=True)
trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=2, mini_batch_size=50,
                  optimizer='Adam', optimizer_param={'lr': 0.01}, evaluate_sample_num_per_epoch=100)
trainer.train()
with open(sys.argv[1] if len(sys.argv) > 1 else "small_params.pkl", "wb") as f:
    pickle.dump(network.params, f)
print("dtypes:", sorted({str(value.dtype) for value in network.params.values()}))
plt.plot(trainer.train_loss_list)
plt.show()
