"""Data-parallel training and prediction over MPI (mpi4py), in Horovod's design.

Every rank holds the whole model. Rank 0 broadcasts its initial state; each rank computes the
gradient of its shard of every global batch; one ``Allreduce`` over one contiguous buffer sums
the shard gradients, each weighted by its shard's share of the batch, so that every rank holds
the gradient of the whole batch and applies the same update. Rank 0 alone writes files.

    mpiexec -n 2 cnn-train --distributed            # the main job on two ranks
    mpiexec -n 2 python my_loop.py                   # a loop of one's own (see World)

mpi4py is imported only when a :class:`World` is made: ``pip install "cnn-ext[mpi]"``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Optional, Sequence

import numpy as np

import cnn_ext
from cnn._checks import check_instance, check_int
from cnn.metrics import correct_predictions
from cnn.optim import Arrays, Optimizer
from cnn.streams import Stream, stream

__all__ = ["World", "JobRefused", "DistributedOptimizer", "DistributedSteps", "GradientAllreduce",
           "predict_batches", "abort_on_error", "launched_by_mpiexec", "shard_bounds"]

MPI_INSTALL_HINT = 'pip install "cnn-ext[mpi]" (mpi4py and the MPICH wheel)'
LAUNCH_HINT = "launch it with mpiexec, for example: mpiexec -n 2 cnn-train --distributed"
#: Variables a process manager (MPICH's Hydra, PMIx, Open MPI, Slurm) sets in each rank.
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


class JobRefused(ValueError):
    """A refusal that every rank of the job raises at once, having decided it together in one
    collective call (ranks that built different models, a rank short of memory). No rank waits
    for another, so each can end normally: ``MPI_Abort`` is for errors of one rank alone."""


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"distributed training needs mpi4py, which is not installed "
                          f"({error}): {MPI_INSTALL_HINT}") from None
    return MPI


def launched_by_mpiexec() -> bool:
    """Whether this process was started by an MPI launcher (not as a singleton)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def shard_bounds(count: int, ranks: int, rank: int) -> tuple[int, int]:
    """``(start, stop)`` of ``rank``'s share of ``count`` items split over ``ranks``: shares in
    rank order that differ by at most one, the larger first."""
    base, extra = divmod(count, ranks)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class World:
    """The ranks of one job: an MPI communicator with the few collective calls training needs.

    Args:
        comm: an ``mpi4py.MPI.Comm`` (default ``MPI.COMM_WORLD``).
        threads_per_rank: the kernels' threads in each rank; None (default) leaves a thread
            count set by ``CNN_EXT_NUM_THREADS``/``OMP_NUM_THREADS`` alone, else shares the
            cores among the ranks on each machine (two ranks on two cores: one thread each).

    A loop of one's own, run with ``mpiexec -n 2 python loop.py`` (every rank runs it all)::

        from cnn.distributed import World, DistributedOptimizer
        world = World()
        model, optimizer = LeNet(seed=0), DistributedOptimizer(Adam(lr=0.002), world)
        world.broadcast_state(model, optimizer.optimizer)      # rank 0's weights everywhere
        for batch in batches:                      # the same global batches on every rank
            mine = batch[world.shard(len(batch))]  # this rank's share
            if len(mine):                          # empty when the batch has fewer samples
                model.train_step(x[mine], t[mine])  # than there are ranks
            optimizer.update(model.named_params(), model.named_grads(),
                             samples=len(mine), batch_size=len(batch))
        if world.is_root:
            model.save("weights.npz")
    """

    def __init__(self, comm: Any = None, threads_per_rank: Optional[int] = None) -> None:
        MPI = _mpi()
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else \
            check_instance("comm", comm, MPI.Comm, "mpi4py.MPI.Comm")
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        if threads_per_rank is not None:
            cnn_ext.set_num_threads(check_int("threads_per_rank", threads_per_rank, 1))
        elif not (os.environ.get("CNN_EXT_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")):
            local = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
            cnn_ext.set_num_threads(max(1, cnn_ext.get_num_threads() // local.Get_size()))
            local.Free()

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0, the one that prints and writes."""
        return self.rank == 0

    def shard(self, count: int) -> slice:
        """This rank's slice of ``count`` items (a global batch): consecutive shares in rank
        order, differing by at most one item (an empty slice when ``count < size``)."""
        return slice(*shard_bounds(count, self.size, self.rank))

    def counts(self, count: int) -> list[int]:
        """Every rank's share of ``count`` items, in rank order."""
        return [stop - start for start, stop in
                (shard_bounds(count, self.size, rank) for rank in range(self.size))]

    def check_same(self, what: str, description: Any) -> None:
        """Raise :class:`JobRefused` on every rank when ranks describe ``what`` differently.

        ``description``: any picklable value that must be equal on every rank (for example the
        names, shapes and dtypes of a model's arrays)."""
        described = self.comm.allgather(description)
        differing = [rank for rank, other in enumerate(described) if other != described[0]]
        if differing:
            first, other = described[0], described[differing[0]]
            if isinstance(first, Mapping) and isinstance(other, Mapping):  # name the field
                key = next(key for key in {**first, **other} if first.get(key) != other.get(key))
                first, other = f"{key}={_short(first.get(key))}", f"{key}={_short(other.get(key))}"
            else:
                first, other = _short(first), _short(other)
            raise JobRefused(f"the ranks built different {what}: rank 0 has {first}, "
                             f"rank {differing[0]} has {other}; every rank must run the same "
                             f"command")

    def gather(self, value: Any) -> Optional[list]:
        """Every rank's ``value`` (any picklable object) in rank order on rank 0; None on the
        others."""
        return self.comm.gather(value, root=0)

    def barrier(self) -> None:
        """Wait until every rank has reached this call."""
        self.comm.Barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object), on every rank."""
        return self.comm.bcast(value, root=0)

    def broadcast_arrays(self, arrays: Sequence[np.ndarray]) -> None:
        """Overwrite every rank's ``arrays`` with rank 0's, in place (same shapes and dtypes)."""
        for array in arrays:
            if array.flags.c_contiguous:
                self.comm.Bcast(array, root=0)
            else:
                copy = np.ascontiguousarray(array)
                self.comm.Bcast(copy, root=0)
                array[...] = copy

    def broadcast_state(self, model, optimizer=None) -> None:
        """Give every rank rank 0's parameters and buffers (batch-norm statistics) and, with
        ``optimizer``, its optimizer state (steps, moments) and learning rate."""
        self.check_same("models", [(name, array.shape, str(array.dtype))
                                   for name, array in model.named_arrays().items()])
        self.broadcast_arrays(list(model.named_arrays().values()))
        if optimizer is not None:
            self.check_same("optimizers", type(optimizer).__name__)
            if not self.is_root:
                optimizer.state = {}
            state = self.broadcast(optimizer.state_dict() if self.is_root else None)
            if not self.is_root:
                optimizer.load_state_dict(state)
            optimizer.lr = self.broadcast(optimizer.lr)

    def sum(self, values: Sequence[float]) -> np.ndarray:
        """The element-wise sum over the ranks of a few numbers, in float64."""
        total = np.array(values, dtype=np.float64)
        self.comm.Allreduce(self.MPI.IN_PLACE, total, op=self.MPI.SUM)
        return total

    def gather_rows(self, local: np.ndarray, root: Optional[int] = 0) -> Optional[np.ndarray]:
        """Every rank's ``local`` rows concatenated in rank order: on ``root`` (None on the
        others), or on every rank with ``root=None``. The rows' shape and dtype must agree."""
        local = np.ascontiguousarray(local)
        self.check_same("rows to gather", (local.shape[1:], str(local.dtype)))
        counts = self.comm.allgather(local.shape[0])
        row = int(np.prod(local.shape[1:], dtype=np.int64))
        sizes = [count * row for count in counts]
        if root is None or self.rank == root:
            gathered = np.empty((sum(counts),) + local.shape[1:], local.dtype)
            receive = [gathered, sizes]
        else:
            gathered, receive = None, None
        if root is None:
            self.comm.Allgatherv(local, receive)
        else:
            self.comm.Gatherv(local, receive, root=root)
        return gathered

    def abort(self, code: int = 1) -> None:
        """End every rank of the job at once (``MPI_Abort``) with exit status ``code``."""
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


class GradientAllreduce:
    """Averages the ranks' gradients with one ``Allreduce`` over one contiguous buffer.

    The buffer holds every gradient, flattened in the model's order, then a few extra numbers
    summed in the same call (the Trainer's loss, correct predictions and a stop request). The
    time spent in the calls is kept in ``seconds``, their number in ``calls``.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.buffer: Optional[np.ndarray] = None
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, grads: Mapping[str, np.ndarray], weight: float,
                 extras: Sequence[float] = ()) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``(averaged, extras)``: the sum over the ranks of ``weight * grad`` for each of
        ``grads`` (views into the buffer, by name) and the sums of ``extras`` (float64).

        ``weight`` is this rank's share of the global batch (0 for an empty shard, whose
        gradients are not read)."""
        sizes = [grad.size for grad in grads.values()]
        dtype = next(iter(grads.values())).dtype if grads else np.dtype(np.float64)
        total = sum(sizes)
        # The extras ride in the gradients' dtype; a float32 buffer counts exactly to 2**24.
        if self.buffer is None or self.buffer.size != total + len(extras) or self.buffer.dtype != dtype:
            self.buffer = np.empty(total + len(extras), dtype)
        offset = 0
        averaged = {}
        for (name, grad), size in zip(grads.items(), sizes):
            part = self.buffer[offset:offset + size]
            if weight:
                np.multiply(grad.reshape(-1), dtype.type(weight), out=part)
            else:
                part[...] = 0
            averaged[name] = part.reshape(grad.shape)
            offset += size
        self.buffer[total:] = extras
        started = time.perf_counter()
        self.world.comm.Allreduce(self.world.MPI.IN_PLACE, self.buffer, op=self.world.MPI.SUM)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return averaged, self.buffer[total:].astype(np.float64)


class DistributedOptimizer:
    """Wraps an optimizer, in the style of Horovod's: ``update`` first averages the gradients
    over the ranks (one ``Allreduce``), then applies the wrapped optimizer's update, the same on
    every rank. See :class:`World` for a loop; the wrapped optimizer is ``optimizer``.

    Args:
        optimizer: any :class:`cnn.optim.Optimizer`.
        world: the job's :class:`World`.
    """

    def __init__(self, optimizer, world: World) -> None:
        self.optimizer = check_instance("optimizer", optimizer, Optimizer, "cnn.optim.Optimizer")
        self.world = check_instance("world", world, World, "cnn.distributed.World")
        self.allreduce = GradientAllreduce(world)

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    def update(self, params: Arrays, grads: Arrays, *, samples: Optional[int] = None,
               batch_size: Optional[int] = None) -> None:
        """Average ``grads`` over the ranks and update ``params`` in place (lists, or dicts of
        arrays by name, as :meth:`cnn.optim.Optimizer.update` takes them).

        ``samples``: this rank's share of the global batch of ``batch_size`` samples, so that
        the gradient is weighted by it (exact when shards differ in size); both None weights
        every rank equally."""
        if (samples is None) != (batch_size is None):
            raise ValueError("samples and batch_size must be given together")
        if samples is None:
            weight = 1.0 / self.world.size
        else:
            batch_size = check_int("batch_size", batch_size, 1)
            weight = check_int("samples", samples, 0) / batch_size
        named = grads if isinstance(grads, Mapping) else \
            {str(index): grad for index, grad in enumerate(grads)}
        averaged, _ = self.allreduce(named, weight)
        self.optimizer.update(params, averaged)


class DistributedSteps:
    """The Trainer's steps and evaluations split over the ranks of ``world`` (the methods of
    :class:`cnn.steps.LocalSteps`): every rank computes its shard of each global batch, one
    ``Allreduce`` sums the weighted gradients with the loss, the correct count and a stop
    request, and every rank applies the same update. Rank 0 alone logs and writes files."""

    #: mpiexec forwards SIGTERM as well as Ctrl-C to every rank: both end the job cleanly.
    signals = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, world: World, seed: int) -> None:
        self.world = check_instance("world", world, World, "cnn.distributed.World (or None)")
        self.seed = seed
        self.allreduce = GradientAllreduce(world)
        self.is_root = world.is_root

    def check_setup(self, model, optimizer, settings, sample_shape: tuple, epochs: int) -> None:
        """Refuse, on every rank, ranks that would not train the same model on the same data,
        naming the first setting that differs."""
        self.world.check_same("models", [(name, array.shape, str(array.dtype))
                                         for name, array in model.named_arrays().items()])
        self.world.check_same("training setups", {
            **settings.record(), "sample shape": sample_shape, "epochs": epochs,
            "optimizer": optimizer.settings()})

    def share(self, state, history: list, model, optimizer, layers_with_rng: list) -> tuple:
        """Rank 0's state (position, generators, history, weights, optimizer state) on every
        rank; the other ranks' augmentation and dropout draw from streams of their own."""
        world = self.world
        shared = world.broadcast((state, history) if world.is_root else None)
        world.broadcast_state(model, optimizer)
        if world.is_root:
            return state, history
        state, history = shared
        position = [world.rank, state.epoch, state.step]
        state.augment_rng = stream(self.seed, Stream.AUGMENT, *position)
        for index, layer in enumerate(layers_with_rng):
            layer.rng = stream(self.seed, Stream.RANK_LAYER, index, *position)
        return state, history

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This rank's part of a global batch's indices."""
        return batch[self.world.shard(len(batch))]

    def gradients(self, model, x_mine: np.ndarray, t_mine: np.ndarray, batch_size: int,
                  interrupt) -> tuple:
        """``(loss, correct, stop, grads)`` of the whole global batch of ``batch_size``: the
        gradients averaged over the ranks, ``stop`` true when any rank's ``interrupt`` was
        requested before the step (the ranks decide together, in the same Allreduce)."""
        stop_requested = interrupt.requested
        loss_sum = correct = 0
        if len(x_mine):
            loss, scores = model.train_step(x_mine, t_mine, checked=True)
            loss_sum, correct = loss * len(x_mine), correct_predictions(scores, t_mine)
        grads, (loss_sum, correct, stop) = self.allreduce(
            model.named_grads(), len(x_mine) / batch_size, [loss_sum, correct, stop_requested])
        return loss_sum / batch_size, int(round(correct)), bool(stop), grads

    def evaluate(self, model, x: np.ndarray, t: np.ndarray) -> tuple[float, float]:
        """``(loss, accuracy)`` of checked samples, each rank predicting its share."""
        mine = self.world.shard(len(x))
        count = len(x[mine])
        loss = accuracy = 0.0
        if count:
            loss, accuracy = model.evaluate(x[mine], t[mine], checked=True)
        loss_sum, correct = self.world.sum([loss * count, accuracy * count])
        return float(loss_sum / len(x)), float(round(correct) / len(x))

    def end_of_steps(self, model, optimizer) -> None:
        """Every rank gets rank 0's batch-norm statistics (and any rounding apart undone)
        before the validation and test sets are evaluated."""
        self.world.broadcast_state(model, optimizer)

    def annotate(self, record: dict) -> None:
        """The ranks and the mean time of a step's ``Allreduce`` over the epoch."""
        record["ranks"] = self.world.size
        record["allreduce_ms"] = 1000 * self.allreduce.seconds / max(self.allreduce.calls, 1)
        self.allreduce.seconds, self.allreduce.calls = 0.0, 0

    def agree(self, stop: bool) -> bool:
        """Every rank stops, or none."""
        return bool(self.world.sum([stop])[0])


def predict_batches(model, x: np.ndarray, world: World, batch_size: int = 128,
                    root: Optional[int] = 0) -> Optional[np.ndarray]:
    """``model.predict_batches(x)`` split over the ranks: each predicts its share of ``x``
    (the whole array, the same on every rank) and the scores are gathered in order on ``root``
    (None on the others), or on every rank with ``root=None``. The same scores as one process."""
    mine = x[world.shard(len(x))]
    if len(mine):
        local = model.predict_batches(mine, batch_size)
    else:
        classes = model.num_classes(model.as_batch(x[:1])[0].shape[1:])
        local = np.empty((0, classes), model.dtype)
    return world.gather_rows(local, root)


@contextmanager
def abort_on_error(world: World, code: int = 1) -> Iterator[None]:
    """Inside the block, an exception on any rank prints its traceback and ends every rank
    (``MPI_Abort``) instead of leaving the others waiting in a collective call forever."""
    try:
        yield
    except BaseException:
        if world.size == 1:
            raise
        print(f"rank {world.rank} of {world.size}:", file=sys.stderr)
        traceback.print_exc()
        world.abort(code)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."
