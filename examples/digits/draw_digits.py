"""Draw the digit images beside this script: strokes of a thick round pen on a white canvas, placed
off-centre and at odd sizes, as a person might draw them with a mouse. Run it to redraw them.

    python examples/digits/draw_digits.py
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

HERE = Path(__file__).resolve().parent

# Strokes in a unit box (x right, y up), each a list of points the pen passes through.
STROKES = {
    "two": [[(0.15, 0.75), (0.3, 0.95), (0.6, 0.97), (0.8, 0.8), (0.75, 0.55), (0.15, 0.05),
             (0.9, 0.05)]],
    "three": [[(0.15, 0.9), (0.5, 1.0), (0.8, 0.85), (0.7, 0.6), (0.4, 0.52)],
              [(0.4, 0.52), (0.8, 0.42), (0.85, 0.15), (0.5, 0.0), (0.12, 0.1)]],
    "four": [[(0.65, 0.0), (0.65, 1.0), (0.08, 0.3), (0.95, 0.3)]],
    "seven": [[(0.1, 0.95), (0.9, 0.95), (0.45, 0.0)], [(0.3, 0.5), (0.75, 0.5)]],
}
PLACES = {"two": (0.30, 0.25, 0.45), "three": (0.25, 0.2, 0.55), "four": (0.45, 0.35, 0.4),
          "seven": (0.2, 0.3, 0.6)}  # left, bottom, size on the canvas


def main() -> None:
    rng = np.random.default_rng(7)
    for name, strokes in STROKES.items():
        left, bottom, size = PLACES[name]
        figure = Figure(figsize=(2.4, 2.4), dpi=100)
        axis = figure.add_axes((0, 0, 1, 1))
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1)
        axis.axis("off")
        for stroke in strokes:
            points = np.array(stroke) * [size * 0.8, size] + [left, bottom]
            points += rng.normal(0, 0.006, points.shape)  # an unsteady hand
            axis.plot(*points.T, color="black", linewidth=9, solid_capstyle="round",
                      solid_joinstyle="round")
        figure.savefig(HERE / f"{name}.png", facecolor="white")


if __name__ == "__main__":
    main()
