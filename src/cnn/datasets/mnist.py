"""MNIST with the loader of *Deep Learning from Scratch*: ``load_mnist(normalize, flatten, one_hot_label)``.

The four canonical IDX files (gzip or raw) are read from one directory: ``root``
when it is given; otherwise the directory named by the ``CNN_EXT_DATA``
environment variable when that is set; otherwise a user cache directory. Missing
files are downloaded into that directory from public mirrors, tried in turn,
through a temporary file that is renamed into place only after its SHA-256 matches.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from cnn.datasets.idx import IdxFormatError, parse_idx, read_bytes
from cnn.progress import ProgressBar

__all__ = ["load_mnist", "MIRRORS", "DATA_ENV_VAR", "default_root", "IdxFormatError"]

#: The environment variable that names the directory of the MNIST files.
DATA_ENV_VAR = "CNN_EXT_DATA"
#: Base URLs of the MNIST files, tried in turn.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IMAGE_SIZE = 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class MnistFile:
    name: str            # file name without ".gz"
    sha256: str          # of the decompressed content
    count: int           # images or labels in the file
    is_images: bool


TRAIN_IMAGES = MnistFile("train-images-idx3-ubyte",
                         "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 60000, True)
TRAIN_LABELS = MnistFile("train-labels-idx1-ubyte",
                         "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60000, False)
TEST_IMAGES = MnistFile("t10k-images-idx3-ubyte",
                        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 10000, True)
TEST_LABELS = MnistFile("t10k-labels-idx1-ubyte",
                        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10000, False)


def default_root() -> Path:
    """``$CNN_EXT_DATA`` if set, else ``$XDG_CACHE_HOME/cnn-ext/mnist`` (``~/.cache/cnn-ext/mnist``)."""
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "cnn-ext" / "mnist"


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
               root: Optional[str | os.PathLike] = None, download: bool = True,
               mirrors: Sequence[str] = MIRRORS):
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``.

    Args:
        normalize: float32 images in [0, 1] if true, else uint8 in 0..255.
        flatten: images of shape (N, 784) if true, else (N, 1, 28, 28).
        one_hot_label: labels of shape (N, 10) (float32 one-hot) if true, else int64 (N,).
        root: the directory of the four IDX files; None (default) means :func:`default_root`
            (``$CNN_EXT_DATA``, else the user cache). Only this one directory is read.
        download: fetch missing files from ``mirrors``; if false a missing file is an error.
        mirrors: base URLs tried in turn.

    Example:
        >>> (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)  # doctest: +SKIP
        >>> x_train.shape, x_train.dtype, t_train[:5]  # doctest: +SKIP
        ((60000, 1, 28, 28), dtype('float32'), array([5, 0, 4, 1, 9]))

    Raises:
        FileNotFoundError: a file is missing and could not be downloaded (the message
            says where to put it).
        IdxFormatError (a ValueError): a file is truncated, has a bad magic number, the
            wrong count or out-of-range labels, or fails its checksum.
    """
    root = Path(default_root() if root is None else root)
    if not download and not root.is_dir():
        raise FileNotFoundError(f"root: the data directory {str(root)!r} does not exist")
    arrays = [_load_file(spec, root, download, mirrors)
              for spec in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)]
    x_train, t_train, x_test, t_test = arrays
    return (_images(x_train, normalize, flatten), _labels(t_train, one_hot_label)), \
        (_images(x_test, normalize, flatten), _labels(t_test, one_hot_label))


def _images(images: np.ndarray, normalize: bool, flatten: bool) -> np.ndarray:
    images = images.reshape(-1, IMAGE_SIZE * IMAGE_SIZE) if flatten else images[:, None]
    return images.astype(np.float32) / np.float32(255) if normalize else images


def _labels(labels: np.ndarray, one_hot: bool) -> np.ndarray:
    labels = labels.astype(np.int64)
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels] if one_hot else labels


def _load_file(spec: MnistFile, root: Path, download: bool, mirrors: Sequence[str]) -> np.ndarray:
    for candidate in (root / f"{spec.name}.gz", root / spec.name):
        if candidate.is_file():
            return _parse_and_verify(read_bytes(candidate), spec, str(candidate))
    if not download:
        raise FileNotFoundError(_missing_message(spec, root, []))
    return _download(spec, root, mirrors)


def _parse_and_verify(content: bytes, spec: MnistFile, source: str) -> np.ndarray:
    """Parse an MNIST file and check its shape, its labels and its SHA-256."""
    array = parse_idx(content, source)
    expected_shape = (spec.count, IMAGE_SIZE, IMAGE_SIZE) if spec.is_images else (spec.count,)
    kind = "images" if spec.is_images else "labels"
    if array.shape[1:] != expected_shape[1:] or array.dtype != np.uint8:
        raise IdxFormatError(f"{source}: expected uint8 {kind} of shape {expected_shape}, "
                             f"got {array.dtype} of shape {array.shape}")
    if array.shape[0] != spec.count:
        raise IdxFormatError(f"{source}: wrong count: expected {spec.count} {kind}, found {array.shape[0]}")
    if not spec.is_images and array.max(initial=0) >= NUM_CLASSES:
        raise IdxFormatError(f"{source}: labels out of range: expected 0..9, found {array.max()}")
    digest = hashlib.sha256(content).hexdigest()
    if digest != spec.sha256:
        raise IdxFormatError(f"{source}: checksum mismatch: SHA-256 of the content is {digest}, "
                             f"expected {spec.sha256}; the file is corrupted, delete it and retry")
    return array


def _download(spec: MnistFile, root: Path, mirrors: Sequence[str]) -> np.ndarray:
    """Fetch ``spec`` into ``root`` from the first mirror that serves a good copy."""
    root.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + f"/{spec.name}.gz"
        handle, temporary = tempfile.mkstemp(prefix=f".{spec.name}-", suffix=".part", dir=root)
        try:
            with os.fdopen(handle, "wb") as file:
                _fetch(url, file, spec.name)
            array = _parse_and_verify(read_bytes(temporary), spec, url)
            os.replace(temporary, root / f"{spec.name}.gz")
            return array
        except (OSError, urllib.error.URLError, http.client.HTTPException, IdxFormatError) as error:
            failures.append(f"{url}: {error}")
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    raise FileNotFoundError(_missing_message(spec, root, failures))


def _fetch(url: str, file, name: str, timeout: float = 30.0) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0)
        with ProgressBar(total, f"downloading {name}", unit="B") as bar:
            while chunk := response.read(1 << 16):
                file.write(chunk)
                bar.update(len(chunk))


def _missing_message(spec: MnistFile, root: Path, failures: list[str]) -> str:
    tried = "".join(f"\n  {failure}" for failure in failures)
    return (f"MNIST file {spec.name}.gz is not in {str(root)!r}"
            + (f" and no mirror served a good copy:{tried}" if failures else "")
            + f"\nPut the four MNIST files (gzip or raw IDX) in that directory, pass root=..., "
              f"or set {DATA_ENV_VAR} to the directory that holds them.")
