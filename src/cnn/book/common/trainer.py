"""The book's training loop: mini-batches drawn with ``np.random.choice`` (with replacement),
one optimizer update each, the loss printed after every step and the accuracies after every
epoch."""

from __future__ import annotations

import numpy as np

from cnn.book.common.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["Trainer"]

#: The optimizers by the names ``Trainer(optimizer=...)`` takes, in any case.
OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
              "rmsprop": RMSprop, "adam": Adam}


class Trainer:
    """Trains a book network (one with ``gradient``, ``loss``, ``accuracy`` and ``params``).

    Args:
        network: the network to train.
        x_train: training samples.
        t_train: their labels (class indices or one-hot rows).
        x_test: test samples, evaluated after each epoch and at the end.
        t_test: their labels.
        epochs: passes over the training set (each of ``train_size / mini_batch_size`` steps).
        mini_batch_size: samples per step.
        optimizer: ``'SGD'``, ``'Momentum'``, ``'Nesterov'``, ``'AdaGrad'``, ``'RMSprop'`` or
            ``'Adam'`` (any case).
        optimizer_param: the optimizer's keyword arguments, for example ``{'lr': 0.01}``.
        evaluate_sample_num_per_epoch: evaluate each epoch on the first this many training
            and test samples (None: all of them).
        verbose: print the loss of each step and the accuracies of each epoch.

    After :meth:`train`, ``train_loss_list`` holds each step's loss, ``train_acc_list`` and
    ``test_acc_list`` each epoch's accuracies.
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer='SGD', optimizer_param={'lr': 0.01},
                 evaluate_sample_num_per_epoch=None, verbose=True):
        if str(optimizer).lower() not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(cls.__name__ for cls in OPTIMIZERS.values())} "
                             f"(any case), got {optimizer!r}")
        self.network, self.verbose = network, verbose
        self.x_train, self.t_train, self.x_test, self.t_test = x_train, t_train, x_test, t_test
        self.epochs, self.batch_size = epochs, mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = OPTIMIZERS[str(optimizer).lower()](**optimizer_param)
        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = self.current_epoch = 0
        self.train_loss_list, self.train_acc_list, self.test_acc_list = [], [], []

    def train_step(self):
        """One update on a random mini-batch; at the start of each epoch, the accuracies."""
        batch_mask = np.random.choice(self.train_size, self.batch_size)
        x_batch, t_batch = self.x_train[batch_mask], self.t_train[batch_mask]
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))
        if self.current_iter % self.iter_per_epoch == 0:
            self._evaluate_epoch()
        self.current_iter += 1

    def _evaluate_epoch(self):
        self.current_epoch += 1
        count = self.evaluate_sample_num_per_epoch
        train = (self.x_train, self.t_train) if count is None else \
            (self.x_train[:count], self.t_train[:count])
        test = (self.x_test, self.t_test) if count is None else \
            (self.x_test[:count], self.t_test[:count])
        train_acc, test_acc = self.network.accuracy(*train), self.network.accuracy(*test)
        self.train_acc_list.append(train_acc)
        self.test_acc_list.append(test_acc)
        if self.verbose:
            print(f"=== epoch:{self.current_epoch}, train acc:{train_acc}, test acc:{test_acc} ===")

    def train(self):
        """All ``epochs`` of steps, then the accuracy on the whole test set."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
