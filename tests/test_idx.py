"""The IDX parser on generated files: good ones, and each kind of corruption."""

import gzip

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cnn.datasets import IdxFormatError, read_idx
from idx_files import idx_bytes, write_idx

IMAGES = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_reads_what_was_written(tmp_path, compress):
    write_idx(tmp_path / "images", IMAGES, compress)
    array = read_idx(tmp_path / "images")
    assert array.dtype == np.uint8
    assert_array_equal(array, IMAGES)


def test_reads_big_endian_types(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 1e6]], dtype=np.float32)
    (tmp_path / "floats").write_bytes(idx_bytes(values, 0x0D))
    assert_array_equal(read_idx(tmp_path / "floats"), values)


@pytest.mark.parametrize("content, words", [
    (idx_bytes(IMAGES)[:-7], ["truncated", "60 bytes", "found 53"]),
    (idx_bytes(IMAGES)[:10], ["truncated", "3 dimensions"]),
    (b"\x00\x00", ["truncated", "2 bytes"]),
    (b"\x01\x02" + idx_bytes(IMAGES)[2:], ["bad magic number", "0x0102"]),
    (bytes([0, 0, 0x42, 3]) + idx_bytes(IMAGES)[4:], ["bad magic number", "00004203"]),
    (idx_bytes(IMAGES) + b"\x00\x01", ["2 unexpected bytes"]),
], ids=["truncated-data", "truncated-header", "tiny", "bad-magic", "bad-type", "trailing-bytes"])
def test_each_corruption_has_its_own_message(tmp_path, content, words):
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(IdxFormatError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


def test_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(idx_bytes(IMAGES))
    (tmp_path / "cut.gz").write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(IdxFormatError, match="gzip stream is truncated or corrupted"):
        read_idx(tmp_path / "cut.gz")


def test_idx_format_error_is_a_value_error():
    assert issubclass(IdxFormatError, ValueError)
