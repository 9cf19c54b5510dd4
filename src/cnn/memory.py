"""How much memory a training step or a prediction needs, and how much this process may use.

A step's memory grows linearly with the batch: the activations each layer keeps for its
backward pass, the engines' scratch and the gradients scale with the samples, while the
weights, their gradients and the optimizer's state do not. So the peak is measured, on copies
of the model and the optimizer (the originals are left untouched), for one step at two batch
sizes with :mod:`tracemalloc` (which sees every NumPy array), and the line through the two
points gives the peak at any batch size. Measured against the peak resident memory of real
steps (``benchmarks/memory_estimate.py``), with the engines' memory cache added, the estimate
was 1.0x-1.7x the real peak for LeNet and DeepConvNet at batch sizes 32 to 4096: it errs on the
side of caution.

The memory this process may still take is the system's available memory (``MemAvailable``)
or, inside a container, its cgroup's limit less what the cgroup uses, whichever is smaller;
``CNN_EXT_MEMORY_LIMIT`` (``"8G"``, ``"512M"`` or bytes) caps the total memory cnn-ext assumes
the machine has, which stands for a smaller machine in a test. A step may take at most
``1 - MARGIN`` of that, the rest left to the operating system, other programs and the error of
the estimate. Where none of these can be read (outside Linux, without the variable), nothing is
refused.
"""

from __future__ import annotations

import copy
import math
import os
import re
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from cnn_ext.runtime.memory import CACHE_BYTES

__all__ = ["MEMORY_LIMIT_VARIABLE", "MARGIN", "MemoryBudget", "LinearMemory", "NotEnoughMemory",
           "memory_budget", "parse_size", "format_size", "measure_training_step",
           "check_training_memory", "prediction_chunk"]

#: The environment variable that caps the memory cnn-ext assumes the machine has.
MEMORY_LIMIT_VARIABLE = "CNN_EXT_MEMORY_LIMIT"
#: The share of the available memory left free for the system and the estimate's error.
MARGIN = 0.2
#: Batches measured to draw a step's line (a smaller chosen batch is measured as it is).
MEASURED_BATCHES = (64, 256)
#: Below this many bytes of activations a prediction is never split (no budget is read).
SMALL_PREDICTION_BYTES = 256 << 20
#: How many times its input a prediction's activations are assumed to take at most, before the
#: layers' shapes are walked (LeNet's largest map is 6 times its input, DeepConvNet's 16).
SMALL_PREDICTION_GROWTH = 64

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str, name: str = MEMORY_LIMIT_VARIABLE) -> int:
    """Bytes of a size such as ``"8G"``, ``"512M"``, ``"1.5GiB"`` or ``"1000000"`` (powers of
    1024); ``ValueError`` naming ``name`` for anything else."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", str(text), re.IGNORECASE)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{name} must be a positive size such as 8G, 512M or a number of bytes, "
                         f"got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_size(count: float) -> str:
    """``1.4 GiB``, ``320 MiB``: bytes for a message."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count / 1024:.0f} KiB"


@dataclass(frozen=True)
class MemoryBudget:
    """What this process may still allocate: ``free`` bytes, of which a step may take
    ``usable``; ``source`` says where the figure comes from, for messages."""

    free: int
    source: str

    @property
    def usable(self) -> int:
        """The bytes a step may take: ``free`` less the :data:`MARGIN`."""
        return int(self.free * (1 - MARGIN))


def memory_budget(environ: Optional[dict] = None, proc: Path = Path("/proc"),
                  cgroup_root: Path = Path("/sys/fs/cgroup")) -> Optional[MemoryBudget]:
    """The memory this process may still take, or None where it cannot be told."""
    environ = os.environ if environ is None else environ
    candidates = []
    setting = environ.get(MEMORY_LIMIT_VARIABLE)
    if setting:
        limit = parse_size(setting)
        in_use = _resident_bytes(proc)
        candidates.append((max(limit - in_use, 0),
                           f"{MEMORY_LIMIT_VARIABLE}={setting} less the {format_size(in_use)} "
                           f"this process holds"))
    available = _meminfo_available(proc)
    if available is not None:
        candidates.append((available, "the system's available memory"))
    cgroup = _cgroup_free(proc, cgroup_root)
    if cgroup is not None:
        candidates.append((cgroup, "the container's memory limit less its use"))
    if not candidates:
        return None
    free, source = min(candidates)
    return MemoryBudget(free, source)


def _resident_bytes(proc: Path) -> int:
    try:
        return int((proc / "self" / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def _meminfo_available(proc: Path) -> Optional[int]:
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_free(proc: Path, cgroup_root: Path) -> Optional[int]:
    """``memory.max - memory.current`` of this process's cgroup (v2), or v1's limit less usage."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            folder = cgroup_root / path.lstrip("/")
            files = (folder / "memory.max", folder / "memory.current")
        elif "memory" in controllers.split(","):
            folder = cgroup_root / "memory" / path.lstrip("/")
            files = (folder / "memory.limit_in_bytes", folder / "memory.usage_in_bytes")
        else:
            continue
        try:
            limit, usage = (file.read_text().strip() for file in files)
            if limit == "max" or int(limit) >= 1 << 60:  # no limit
                return None
            return max(int(limit) - int(usage), 0)
        except (OSError, ValueError):
            return None
    return None


@dataclass(frozen=True)
class LinearMemory:
    """Peak bytes of a piece of work: the arrays it holds at once, ``fixed + per_sample *
    batch``, and as much again, up to ``cached`` bytes, for the blocks the engines' memory
    cache (``cnn_ext.runtime.memory``) keeps between two uses, which the process holds too."""

    fixed: int
    per_sample: float
    cached: int = CACHE_BYTES

    def arrays(self, batch: int) -> int:
        """Bytes of the arrays held at once by the work on ``batch`` samples."""
        return int(self.fixed + self.per_sample * batch)

    def at(self, batch: int) -> int:
        """The peak bytes of the work on ``batch`` samples, the cache included."""
        held = self.arrays(batch)
        return held + min(held, self.cached)

    def largest_batch(self, usable: int) -> int:
        """The largest batch whose peak fits in ``usable`` bytes (0 if none does)."""
        if self.per_sample <= 0:
            return 1 << 62
        held = usable - self.cached if usable >= 2 * self.cached else usable // 2
        return max(int((held - self.fixed) // self.per_sample), 0)


class NotEnoughMemory(ValueError):
    """A batch would need more memory than this process may take. ``batch_size``, ``needed``
    (bytes), ``budget`` (a :class:`MemoryBudget`) and ``fitting`` (the largest batch size that
    fits, rounded down) say by how much, for a caller to phrase in its own words."""

    def __init__(self, work: str, batch_size: int, needed: int, budget: MemoryBudget,
                 fitting: int) -> None:
        self.work, self.batch_size, self.needed, self.budget, self.fitting = \
            work, batch_size, needed, budget, fitting
        super().__init__(f"batch_size={batch_size} needs about {format_size(needed)} for {work}, "
                         f"more than this process may take ({self.describe_budget()}); "
                         f"{self.what_fits('batch_size=')}. Pass check_memory=False to the "
                         f"Trainer to train anyway")

    def what_fits(self, option: str, ranks: int = 1) -> str:
        """``batch_size=48 fits``, or ``not even batch_size=1 fits`` when no batch does, with
        ``option`` as the caller spells it (``--batch-size `` on the command line); with
        ``ranks`` processes sharing each batch, each holds a share of it."""
        if self.fitting == 0:
            return f"not even {option}{ranks} fits"
        return f"{option}{self.fitting * ranks} fits"

    def describe_budget(self) -> str:
        """The budget as a message gives it: usable, free, where from, and the margin."""
        return (f"{format_size(self.budget.usable)}: {format_size(self.budget.free)} by "
                f"{self.budget.source}, less a {MARGIN:.0%} margin")


def _rounded_down(count: int) -> int:
    """``count`` rounded down to two significant digits (``15384`` to ``15000``)."""
    if count < 100:
        return count
    step = 10 ** (len(str(count)) - 2)
    return count - count % step


def _traced_peak(work) -> int:
    """Peak bytes NumPy and Python allocate while ``work()`` runs, above what was held before."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()


def measure_training_step(model, optimizer, sample_shape: tuple, batch_size: int) -> LinearMemory:
    """The peak memory of a training step (forward, backward and update) as a line in the
    batch size, measured on copies of ``model`` and ``optimizer`` at two batches (or at
    ``batch_size`` itself when it is no larger than the first), after one step that warms up
    what is allocated once."""
    def peak(batch):
        trial_model, trial_optimizer = copy.deepcopy(model), copy.deepcopy(optimizer)
        x = np.zeros((batch, *sample_shape), trial_model.dtype or np.float32)
        labels = np.zeros(batch, np.int64)

        def step():
            trial_model.train_step(x, labels, checked=True)
            trial_optimizer.update(trial_model.named_params(), trial_model.named_grads())
        return _traced_peak(step)

    small, large = MEASURED_BATCHES
    peak(min(small, batch_size))  # the first step allocates once what later steps reuse
    if batch_size <= small:
        return LinearMemory(peak(batch_size), 0.0)
    low, high = peak(small), peak(large)
    per_sample = max(high - low, 0) / (large - small)
    return LinearMemory(int(low - per_sample * small), per_sample)


def check_training_memory(model, optimizer, sample_shape: tuple, batch_size: int,
                          budget: Optional[MemoryBudget] = None) -> Optional[LinearMemory]:
    """Raise :class:`NotEnoughMemory` when a training step at ``batch_size`` would need more than
    the budget (default :func:`memory_budget`); return the measured line (None without a
    budget, when nothing is measured)."""
    budget = memory_budget() if budget is None else budget
    if budget is None:
        return None
    line = measure_training_step(model, optimizer, sample_shape, batch_size)
    needed = line.at(batch_size)
    if needed > budget.usable:
        if line.per_sample == 0:  # measured at the batch itself: draw the line to find one
            line = LinearMemory(0, line.arrays(batch_size) / batch_size)
        fitting = _rounded_down(min(line.largest_batch(budget.usable), batch_size - 1))
        raise NotEnoughMemory("one training step", batch_size, needed, budget, fitting)
    return line


def prediction_chunk(model, x: np.ndarray) -> int:
    """How many samples of ``x`` a prediction may run at once within the memory budget: all of
    them for a small batch (without reading the budget), else as many as fit (at least 1)."""
    count = x.shape[0]
    if x.nbytes * SMALL_PREDICTION_GROWTH < SMALL_PREDICTION_BYTES:
        return count  # no layer is walked: most predictions end here
    try:
        shapes = model.layer_shapes(x.shape[1:])
    except ValueError:  # samples the layers refuse: let the first that does say why
        return count
    sample_elements = max(math.prod(shape) for shape in [x.shape[1:], *shapes])
    if 3 * count * sample_elements * x.itemsize < SMALL_PREDICTION_BYTES:
        return count
    budget = memory_budget()
    if budget is None:
        return count
    line = _inference_line(model, x)
    return count if line.at(count) <= budget.usable else max(line.largest_batch(budget.usable), 1)


def _inference_line(model, x: np.ndarray) -> LinearMemory:
    """The peak memory of a prediction as a line in the batch, measured on two slices of ``x``
    (inference keeps no state, so the model itself runs), remembered per sample shape."""
    key = (x.shape[1:], x.dtype.str, tuple(map(id, model.layers)))
    remembered = model.__dict__.setdefault("_inference_memory", {})
    if key not in remembered:
        small, large = (min(batch, x.shape[0]) for batch in MEASURED_BATCHES)
        low = _traced_peak(lambda: model._forward_layers(x[:small], train=False))
        high = _traced_peak(lambda: model._forward_layers(x[:large], train=False))
        per_sample = max(high - low, 0) / max(large - small, 1)
        remembered[key] = LinearMemory(int(low - per_sample * small), per_sample)
    return remembered[key]
