"""load_mnist on the real files, on generated broken files, and downloading from a local server."""

import gzip
import http.server
import shutil
import threading

import numpy as np
import pytest

from cnn.datasets import IdxFormatError, load_mnist
from cnn.datasets import mnist as mnist_module
from cnn.datasets.mnist import DATA_ENV_VAR, data_root, default_root
from cnn_ext.tests.messages import check_message
from idx_files import write_idx
from mnist_files import MNIST_DIR

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte"]
SMALL = "t10k-labels-idx1-ubyte"


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(root=MNIST_DIR, normalize=False, flatten=False)


def test_shapes_and_dtypes_of_every_option(mnist):
    (x_train, t_train), (x_test, t_test) = mnist
    assert x_train.shape == (60000, 1, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 1, 28, 28)
    assert t_train.shape == (60000,) and t_train.dtype == np.int64
    assert t_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    (x, t), _ = load_mnist(root=MNIST_DIR, normalize=True, flatten=True, one_hot_label=True)
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x.reshape(x_train.shape), x_train / np.float32(255))
    assert t.shape == (60000, 10) and t.dtype == np.float32
    np.testing.assert_array_equal(t.argmax(axis=1), t_train)
    assert np.all(t.sum(axis=1) == 1)


def test_raw_files_are_read_too(tmp_path, mnist):
    for name in NAMES:
        (tmp_path / name).write_bytes(gzip.decompress((MNIST_DIR / f"{name}.gz").read_bytes()))
    (_, t_train), (x_test, _) = load_mnist(root=tmp_path, normalize=False, flatten=False, download=False)
    np.testing.assert_array_equal(t_train, mnist[0][1])
    np.testing.assert_array_equal(x_test, mnist[1][0])


def copy_mnist(root, skip=()):
    root.mkdir(exist_ok=True)
    for name in NAMES:
        if name not in skip:
            shutil.copy(MNIST_DIR / f"{name}.gz", root / f"{name}.gz")


@pytest.mark.parametrize("array, words", [
    (np.zeros(9999, np.uint8), ["wrong count", "10000 labels", "found 9999"]),
    (np.full(10000, 10, np.uint8), ["labels out of range", "0..9", "10"]),
    (np.zeros((10000, 2), np.uint8), ["shape (10000,)", "(10000, 2)"]),
    (np.ones(10000, np.uint8), ["checksum mismatch", "ff7bcfd4"]),
], ids=["count", "label-range", "shape", "checksum"])
def test_a_wrong_file_is_named_with_its_fault(tmp_path, array, words):
    copy_mnist(tmp_path, skip=[SMALL])
    write_idx(tmp_path / f"{SMALL}.gz", array)
    with pytest.raises(IdxFormatError) as info:
        load_mnist(root=tmp_path, download=False)
    message = str(info.value)
    assert f"{SMALL}.gz" in message
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


def test_missing_file_without_download_says_where_to_put_it(tmp_path):
    copy_mnist(tmp_path, skip=[SMALL])
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(root=tmp_path, download=False)
    assert SMALL in str(info.value) and str(tmp_path) in str(info.value)
    assert DATA_ENV_VAR in str(info.value)


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(root=tmp_path / "nowhere", download=False)


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert default_root() == tmp_path
    monkeypatch.delenv(DATA_ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_root() == tmp_path / "cache" / "cnn-ext" / "mnist"


def test_a_clone_reads_its_own_copy_when_the_cache_is_empty(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(mnist_module, "INSTALLED_FROM_COPY", tmp_path / "installed" / "data" / "mnist")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    clone = tmp_path / "clone"
    (clone / "data").mkdir(parents=True)
    (clone / "data" / "mnist").symlink_to(MNIST_DIR)
    monkeypatch.chdir(clone)
    assert data_root() == (clone / "data" / "mnist").resolve()
    (_, t_train), _ = load_mnist(download=False)
    assert t_train[:5].tolist() == [5, 0, 4, 1, 9]
    cache = tmp_path / "cache" / "cnn-ext" / "mnist"
    cache.mkdir(parents=True)
    for path in MNIST_DIR.glob("*.gz"):  # a full cache wins over the clone's copy
        (cache / path.name).symlink_to(path)
    assert data_root() == cache
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "elsewhere"))  # and the environment over both
    assert data_root() == tmp_path / "elsewhere"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ENV_VAR)
    (cache / "t10k-labels-idx1-ubyte.gz").unlink()
    assert data_root() == cache  # no clone here: the cache, where the missing file is downloaded


def test_an_editable_install_reads_its_clones_copy_from_any_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    clone = tmp_path / "clone"
    (clone / "data").mkdir(parents=True)
    (clone / "data" / "mnist").symlink_to(MNIST_DIR)
    monkeypatch.setattr(mnist_module, "INSTALLED_FROM_COPY", clone / "data" / "mnist")
    monkeypatch.chdir(tmp_path)  # not a clone: a book chapter's folder, say
    assert data_root() == MNIST_DIR.resolve()
    monkeypatch.setattr(mnist_module, "INSTALLED_FROM_COPY", tmp_path / "site-packages" / "data" / "mnist")
    assert data_root() == tmp_path / "cache" / "cnn-ext" / "mnist"


def test_a_missing_file_names_every_way_to_the_data(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(root=tmp_path, mirrors=[])
    check_message(error, ["train-images-idx3-ubyte.gz", str(tmp_path), "root=", DATA_ENV_VAR,
                          "data/mnist", "clone's root"])


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """/good/ serves the real files, /corrupt/ a copy with one label changed,
    /truncated/ half a file under a full Content-Length; hostile ones: /oversized/ announces more
    bytes than any gzip of the file needs, /endless/ streams without a Content-Length past that
    size, /bomb/ is a small gzip of the labels followed by 8 MiB of zeros, /huge/ declares four
    dimensions of 65536; anything else 404."""

    good = (MNIST_DIR / f"{SMALL}.gz").read_bytes()
    labels = bytearray(gzip.decompress(good))
    labels[-1] = (labels[-1] + 1) % 10
    corrupt = gzip.compress(bytes(labels))
    bomb = gzip.compress(gzip.decompress(good) + bytes(8 << 20), compresslevel=9)
    huge = gzip.compress(bytes([0, 0, 8, 4]) + b"\x00\x01\x00\x00" * 4 + bytes(64))
    bodies = {"good": good, "corrupt": corrupt, "truncated": good, "bomb": bomb, "huge": huge,
              "oversized": bytes(1 << 20), "endless": bytes(1 << 20)}

    def do_GET(self):
        kind, name = self.path.strip("/").split("/", 1)
        if name != f"{SMALL}.gz" or kind not in self.bodies:
            self.send_error(404)
            return
        body = self.bodies[kind]
        self.send_response(200)
        if kind != "endless":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if kind == "truncated" else body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_tries_mirrors_in_turn_until_a_good_copy(tmp_path, server, mnist):
    copy_mnist(tmp_path, skip=[SMALL])
    mirrors = [f"{server}/missing/", f"{server}/corrupt/", f"{server}/truncated/", f"{server}/good/"]
    (_, _), (_, t_test) = load_mnist(root=tmp_path, mirrors=mirrors)
    np.testing.assert_array_equal(t_test, mnist[1][1])
    assert (tmp_path / f"{SMALL}.gz").read_bytes() == MirrorHandler.good
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.gz" for name in NAMES)


def test_hostile_mirrors_are_refused_and_the_next_one_tried(tmp_path, server, mnist):
    assert len(MirrorHandler.bomb) < 16_000  # within the download cap: the reader must bound it
    copy_mnist(tmp_path, skip=[SMALL])
    hostile = ["oversized", "endless", "bomb", "huge"]
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(root=tmp_path, mirrors=[f"{server}/{kind}/" for kind in hostile])
    failures = str(info.value).splitlines()[1:5]
    for failure, words in zip(failures, [
            ["oversized", "announces 1048576 bytes, more than any gzip encoding"],
            ["endless", "the download grew past"],
            ["bomb", "unexpected bytes after the data"],
            ["huge", "expected uint8 labels of shape (10000,)", "(65536, 65536, 65536, 65536)"]]):
        for word in words:
            assert word in failure, f"{word!r} missing from {failure!r}"
    (_, _), (_, t_test) = load_mnist(root=tmp_path, mirrors=[f"{server}/{kind}/" for kind in
                                                             hostile + ["good"]])
    np.testing.assert_array_equal(t_test, mnist[1][1])


def test_download_failure_lists_every_mirror_and_leaves_nothing(tmp_path, server):
    copy_mnist(tmp_path, skip=[SMALL])
    mirrors = [f"{server}/missing/", f"{server}/corrupt/", f"{server}/truncated/"]
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(root=tmp_path, mirrors=mirrors)
    message = str(info.value)
    assert "404" in message
    assert "checksum mismatch" in message
    assert "IncompleteRead" in message or "truncated" in message
    assert "Put the four MNIST files" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{name}.gz" for name in NAMES
                                                                if name != SMALL)


def test_offline_download_fails_with_a_hint(tmp_path):
    copy_mnist(tmp_path, skip=[SMALL])
    with pytest.raises(FileNotFoundError, match="Put the four MNIST files"):
        load_mnist(root=tmp_path, mirrors=["http://127.0.0.1:9/"])
    assert not (tmp_path / f"{SMALL}.gz").exists()
