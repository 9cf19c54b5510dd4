"""A small text progress bar for terminals; silent when output is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class ProgressBar:
    """``with ProgressBar(total, "epoch 1") as bar: bar.update(n, loss=0.3)``.

    Args:
        total: the amount of work (batches, bytes).
        description: text in front of the bar.
        unit: ``"B"`` shows sizes in MB, anything else shows counts.
        stream: where to draw (default ``sys.stderr``).
        enabled: draw or not; ``None`` (default) draws only when ``stream`` is a terminal.
    """

    width = 30

    def __init__(self, total: int, description: str = "", unit: str = "",
                 stream: Optional[TextIO] = None, enabled: Optional[bool] = None) -> None:
        self.total = max(int(total), 1)
        self.description = description
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self.started = time.perf_counter()
        self.last_drawn = 0.0

    def update(self, amount: int = 1, **values: float) -> None:
        """Advance by ``amount`` and show ``values`` (for example ``loss=0.31``) after the bar."""
        self.done += amount
        now = time.perf_counter()
        if self.enabled and (now - self.last_drawn > 0.1 or self.done >= self.total):
            self.last_drawn = now
            self._draw(now, values)

    def _draw(self, now: float, values: dict) -> None:
        fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        if self.unit == "B":
            amount = f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        else:
            amount = f"{self.done}/{self.total}"
        extra = " ".join(f"{name} {value:.4f}" for name, value in values.items())
        line = f"\r{self.description} [{bar}] {amount} {now - self.started:.1f} s {extra}"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        """Clear the bar's line so that the next message starts clean."""
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
