"""The IDX parser on generated files: good ones, and each kind of corruption."""

import gzip
import struct
import tracemalloc
import zlib

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


def header(type_code, shape):
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def test_sizes_are_exact_and_bounded_before_anything_is_read(tmp_path):
    path = tmp_path / "huge"
    path.write_bytes(header(0x08, (65536,) * 4) + bytes(16))  # 2**64 bytes: int64 wrapped to 0
    with pytest.raises(IdxFormatError, match=r"shape \(65536, 65536, 65536, 65536\) needs "
                                             r"18446744073709551616 bytes of data, more than"):
        read_idx(path)
    path.write_bytes(header(0x0E, (4294967295, 4294967295)) + bytes(8))
    with pytest.raises(IdxFormatError, match="more than the 1073741824 bytes this reader accepts"):
        read_idx(path)
    path.write_bytes(header(0x08, (10, 10)) + bytes(100))
    with pytest.raises(IdxFormatError, match="needs 100 bytes of data, more than the 99"):
        read_idx(path, max_bytes=99)


def gzip_bomb(path, content_header, zeros):
    """A small gzip file that decompresses to ``content_header`` and ``zeros`` zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    chunk = bytes(1 << 20)
    with open(path, "wb") as file:
        file.write(compressor.compress(content_header))
        for _ in range(zeros >> 20):
            file.write(compressor.compress(chunk))
        file.write(compressor.flush())


def test_a_gzip_bomb_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "bomb.gz"
    gzip_bomb(path, header(0x08, (100,)), 200 << 20)  # 200 MiB of zeros after 100 bytes of data
    assert path.stat().st_size < 400_000
    tracemalloc.start()
    try:
        with pytest.raises(IdxFormatError, match="at least 1048576 unexpected bytes"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"reading the bomb took {peak} bytes"
