"""Benchmark cnn-ext: kernels against memcpy, NumPy and PyTorch, whole layers against PyTorch,
and the training and inference of LeNet, DeepConvNet and ResNet, for every SIMD path this CPU
supports.

    python benchmarks/run.py                 # everything; about 25 minutes on 2 cores
    python benchmarks/run.py --quick         # float32 kernels and layers, fewer repeats, no model

Prints the tables and writes them, with the machine's description, as JSON
(default benchmarks/results/benchmark.json). PyTorch is optional: without it
those columns are skipped with a note. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

import cnn_ext
import kernels
import layers
import model as model_py
from timing import cpu_name

HERE = Path(__file__).resolve().parent


def machine() -> dict:
    cpu = cpu_name()
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "cnn_ext": cnn_ext.__version__, "torch": torch_version,
            "command": " ".join([Path(sys.executable).name] + sys.argv)}


def ratio(row: dict, baseline: str) -> str:
    return f"{row['cnn_ext'] / row[baseline]:.2f}" if baseline in row else "-"


def kernel_table(rows: list[dict]) -> str:
    header = (f"{'kernel':<17} {'shape':<6} {'dtype':<8} {'cnn_ext ms':>10} {'memcpy ms':>9} "
              f"{'numpy ms':>9} {'torch ms':>9} {'/memcpy':>8} {'/numpy':>7} {'/torch':>7}")
    lines = [header, "-" * len(header)]
    for row in rows:
        torch_ms = f"{row['torch'] * 1e3:.3f}" if "torch" in row else "-"
        lines.append(f"{row['kernel']:<17} {row['shape']:<6} {row['dtype']:<8} "
                     f"{row['cnn_ext'] * 1e3:>10.3f} {row['memcpy'] * 1e3:>9.3f} "
                     f"{row['numpy'] * 1e3:>9.3f} {torch_ms:>9} {ratio(row, 'memcpy'):>8} "
                     f"{ratio(row, 'numpy'):>7} {ratio(row, 'torch'):>7}")
    return "\n".join(lines)


MODEL_KEYS = ("epoch_seconds", "step_ms", "inference_seconds_128", "inference_seconds_1000",
              "predict_growth_mb", "peak_rss_mb")


def model_row(framework: str, model: str, threads: int, epochs: int,
              simd: str | None = None) -> dict:
    """One run of model.py in its own process (``simd`` forces cnn-ext's kernels)."""
    environment = dict(os.environ)
    if simd is not None:
        environment["CNN_EXT_SIMD"] = simd
    command = [sys.executable, str(HERE / "model.py"), framework, "--model", model,
               "--threads", str(threads), "--epochs", str(epochs)]
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            env=environment).stdout
    return json.loads(output.strip().splitlines()[-1])


def model_table(rows: list[dict], theirs: dict | None) -> str:
    header = (f"{'framework':<16} {'epoch s':>8} {'step ms':>8} {'infer@128 s':>11} "
              f"{'infer@1000 s':>12} {'predict +MB':>11} {'peak RSS MB':>11} {'test acc':>8}")
    lines = [header, "-" * len(header)]
    for row in rows + ([theirs] if theirs else []):
        name = row["framework"] + (f" {row['simd']}" if "simd" in row else "")
        lines.append(f"{name:<16} {row['epoch_seconds']:>8.2f} {row['step_ms']:>8.1f} "
                     f"{row['inference_seconds_128']:>11.3f} {row['inference_seconds_1000']:>12.3f} "
                     f"{row['predict_growth_mb']:>11.1f} {row['peak_rss_mb']:>11.0f} "
                     f"{row['test_accuracy']:>8.4f}")
    for row in rows if theirs else []:
        ratios = [row[key] / theirs[key] for key in MODEL_KEYS]
        lines.append(f"{'ratio ' + row['simd']:<16} {ratios[0]:>8.2f} {ratios[1]:>8.2f} "
                     f"{ratios[2]:>11.2f} {ratios[3]:>12.2f} {ratios[4]:>11.2f} {ratios[5]:>11.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="float32 kernels, 3 repeats, no model")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both frameworks")
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats per kernel")
    parser.add_argument("--model-epochs", type=int, default=3,
                        help="timed LeNet epochs per run (DeepConvNet: one)")
    parser.add_argument("--no-model", action="store_true", help="skip the model benchmarks")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "benchmark.json")
    args = parser.parse_args()

    cnn_ext.set_num_threads(args.threads)
    torch_available = kernels.torch_functions(args.threads) is not None
    info = machine()
    print(f"{info['date']} | {info['cpu']} | {info['cores']} cores | threads {args.threads} | "
          f"Python {info['python']} | NumPy {info['numpy']} | cnn-ext {info['cnn_ext']} | "
          f"torch {info['torch'] or 'not installed'}")
    if not torch_available:
        print("note: PyTorch is not installed, its columns are skipped (pip install torch==2.13.0)")

    dtypes = [np.float32] if args.quick else [np.float32, np.float64]
    rows = kernels.run(dtypes, 3 if args.quick else args.repeats, args.threads)
    print("\nKernels (median ms; ratios are cnn_ext time / baseline time, lower is better)")
    print(kernel_table(rows))
    from cnn_ext.engines.direct.dispatch import supported_paths
    paths = list(reversed(supported_paths()))
    repeats = 3 if args.quick else args.repeats
    theirs = layers.in_own_process("torch", repeats, args.threads) if torch_available else None
    peak = layers.machine_peak(None, args.threads)
    print(f"\nLayers (median ms; ratio is cnn_ext time / torch time; each framework in its own "
          f"process)\npeak: {peak['description']}")
    layer_rows = []
    for path in paths:
        rows_of_path = layers.rows(layers.in_own_process("cnn-ext", repeats, args.threads, path),
                                   theirs, args.threads)
        print(layers.table(rows_of_path))
        layer_rows += rows_of_path

    results = {"machine": info, "threads": args.threads, "kernels": rows, "layers": layer_rows}
    if not (args.quick or args.no_model):
        results["models"] = {}
        for model, epochs in (("lenet", args.model_epochs), ("deepconvnet", 1), ("resnet", 1)):
            ours = [model_row("cnn-ext", model, args.threads, epochs, path) for path in paths]
            torch_row = model_row("torch", model, args.threads, epochs) if torch_available else None
            batch = model_py.BATCH_SIZES[model]
            print(f"\n{model} on MNIST, batch {batch}, Adam, float32 (median of {epochs} "
                  f"epoch(s); inference on the 10,000 test images in batches of 128 and 1000; "
                  f"memory growth while predicting in batches of 1000)")
            print(model_table(ours, torch_row))
            results["models"][model] = ours + ([torch_row] if torch_row else [])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {args.output}")


if __name__ == "__main__":
    main()
