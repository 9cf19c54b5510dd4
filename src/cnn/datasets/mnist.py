"""MNIST with the loader of *Deep Learning from Scratch*: ``load_mnist(normalize, flatten, one_hot_label)``.

The four canonical IDX files (gzip or raw) are read from one directory: ``root``
when it is given; otherwise the directory named by the ``CNN_EXT_DATA``
environment variable when that is set; otherwise a user cache directory, unless
the cache lacks them and the current directory is a clone of cnn-ext, whose
``data/mnist`` holds them (see :func:`data_root`). Each
file is read in bounded memory (no more than its known size is ever
decompressed) and checked against the SHA-256 of its content. Missing files are
downloaded into that directory from public mirrors, tried in turn: a download
may be no larger than any gzip encoding of the file could be, it is checked
(decompressed within the same bound) before it is trusted, and only then
renamed into place; any bad copy makes the loader try the next mirror.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from cnn.datasets.idx import IdxFormatError, read_idx_checked
from cnn.progress import ProgressBar

__all__ = ["load_mnist", "missing_files", "MIRRORS", "DATA_ENV_VAR", "REPOSITORY_COPY", "default_root", "data_root",
           "IdxFormatError"]

#: The environment variable that names the directory of the MNIST files.
DATA_ENV_VAR = "CNN_EXT_DATA"
#: Base URLs of the MNIST files, tried in turn.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: Where a clone of the cnn-ext repository keeps its copy of the four files, from its root.
REPOSITORY_COPY = Path("data") / "mnist"
#: The copy of the clone this package runs from, when it is installed editable (src/cnn/...).
INSTALLED_FROM_COPY = Path(__file__).resolve().parents[3] / REPOSITORY_COPY
IMAGE_SIZE = 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class MnistFile:
    name: str            # file name without ".gz"
    sha256: str          # of the decompressed content
    count: int           # images or labels in the file
    is_images: bool

    @property
    def data_bytes(self) -> int:
        """The size of the IDX data: no more is ever decompressed."""
        return self.count * (IMAGE_SIZE * IMAGE_SIZE if self.is_images else 1)

    @property
    def content_bytes(self) -> int:
        """The size of the whole IDX file: header and data."""
        return 4 + 4 * (3 if self.is_images else 1) + self.data_bytes

    @property
    def download_limit(self) -> int:
        """The most bytes a download may hold: deflate never grows data by more than a few bytes
        per 16 KiB block, so no gzip encoding of the file is larger."""
        return self.content_bytes + self.content_bytes // 1024 + 4096


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


def data_root() -> Path:
    """The directory :func:`load_mnist` reads without ``root``: ``$CNN_EXT_DATA`` if set; else the
    user cache (:func:`default_root`) if it holds the four files; else the ``data/mnist`` of a
    clone of cnn-ext that holds them: the current directory's, or the clone this package runs
    from (an editable install), so that a clone runs offline from any folder; else the user
    cache, where the missing files are downloaded."""
    root = default_root()
    if os.environ.get(DATA_ENV_VAR) or _holds_mnist(root):
        return root
    for copy in (REPOSITORY_COPY, INSTALLED_FROM_COPY):
        if _holds_mnist(copy):
            return copy.resolve()
    return root


def _holds_mnist(directory: Path) -> bool:
    return not missing_files(directory)


def missing_files(directory: str | os.PathLike) -> list[str]:
    """The names of MNIST's four files that ``directory`` lacks (gzip or raw)."""
    directory = Path(directory)
    return [f"{spec.name}.gz" for spec in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
            if not (directory / f"{spec.name}.gz").is_file() and not (directory / spec.name).is_file()]


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
               root: Optional[str | os.PathLike] = None, download: bool = True,
               mirrors: Sequence[str] = MIRRORS):
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``.

    Args:
        normalize: float32 images in [0, 1] if true, else uint8 in 0..255.
        flatten: images of shape (N, 784) if true, else (N, 1, 28, 28).
        one_hot_label: labels of shape (N, 10) (float32 one-hot) if true, else int64 (N,).
        root: the directory of the four IDX files; None (default) means :func:`data_root`
            (``$CNN_EXT_DATA``, else the user cache, else a clone's ``data/mnist`` in the
            current directory). Only this one directory is read.
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
    root = Path(data_root() if root is None else root)
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
            return _read_and_verify(candidate, spec, str(candidate))
    if not download:
        raise FileNotFoundError(_missing_message(spec, root, []))
    return _download(spec, root, mirrors)


def _read_and_verify(path: Path, spec: MnistFile, source: str) -> np.ndarray:
    """Read an MNIST file (never decompressing more than its known size) and check its shape,
    its labels and the SHA-256 of its content."""
    expected_shape = (spec.count, IMAGE_SIZE, IMAGE_SIZE) if spec.is_images else (spec.count,)
    kind = "images" if spec.is_images else "labels"

    def check_header(dtype: np.dtype, shape: tuple[int, ...]) -> None:
        if shape[1:] != expected_shape[1:] or len(shape) != len(expected_shape) or dtype != np.uint8:
            raise IdxFormatError(f"{source}: expected uint8 {kind} of shape {expected_shape}, "
                                 f"got {dtype} of shape {shape}")
        if shape[0] != spec.count:
            raise IdxFormatError(f"{source}: wrong count: expected {spec.count} {kind}, "
                                 f"found {shape[0]}")

    array, digest = read_idx_checked(path, spec.data_bytes, source, check_header)
    if not spec.is_images and array.max(initial=0) >= NUM_CLASSES:
        raise IdxFormatError(f"{source}: labels out of range: expected 0..9, found {array.max()}")
    if digest != spec.sha256:
        raise IdxFormatError(f"{source}: checksum mismatch: SHA-256 of the {spec.content_bytes} "
                             f"bytes of content is {digest}, expected {spec.sha256}; the file is corrupted, "
                             f"delete it and retry")
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
                _fetch(url, file, spec.name, spec.download_limit)
            array = _read_and_verify(Path(temporary), spec, url)
            os.replace(temporary, root / f"{spec.name}.gz")
            return array
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as error:
            failures.append(f"{url}: {error}")
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    raise FileNotFoundError(_missing_message(spec, root, failures))


def _fetch(url: str, file, name: str, max_bytes: int, timeout: float = 30.0) -> None:
    """Stream ``url`` into ``file``, refusing more than ``max_bytes``."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        announced = response.headers.get("Content-Length")
        total = int(announced) if announced and announced.isdigit() else 0
        if total > max_bytes:
            raise IdxFormatError(f"the server announces {total} bytes, more than any gzip "
                                 f"encoding of {name} needs ({max_bytes})")
        received = 0
        with ProgressBar(total, f"downloading {name}", unit="B") as bar:
            while chunk := response.read(1 << 16):
                received += len(chunk)
                if received > max_bytes:
                    raise IdxFormatError(f"the download grew past {max_bytes} bytes, more than "
                                         f"any gzip encoding of {name} needs")
                file.write(chunk)
                bar.update(len(chunk))


def _missing_message(spec: MnistFile, root: Path, failures: list[str]) -> str:
    tried = "".join(f"\n  {failure}" for failure in failures)
    return (f"MNIST file {spec.name}.gz is not in {str(root)!r}"
            + (f" and no mirror served a good copy:{tried}" if failures else "")
            + f"\nPut the four MNIST files (gzip or raw IDX) in that directory, pass "
              f"root='directory/of/the/files' to load_mnist, or set {DATA_ENV_VAR} to the "
              f"directory that holds them. A clone of the cnn-ext repository carries them in "
              f"{REPOSITORY_COPY.as_posix()}: root='path/to/the/clone/{REPOSITORY_COPY.as_posix()}', "
              f"or run from the clone's root, where load_mnist() reads that copy.")
