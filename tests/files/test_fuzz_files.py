"""Fuzzing the parsers of files users are handed: IDX, the .npz weights and checkpoints, ONNX
models and drawn digits. Every mutated valid file either loads or raises the documented error,
in bounded memory (traced by tracemalloc).

The suite runs a bounded number of inputs per parser; a longer run is a command:

    CNN_EXT_FUZZ_EXAMPLES=5000 pytest tests/files/test_fuzz_files.py -p no:randomly -s

which prints how many inputs each fuzzer tried and how each was answered.
"""

import collections
import functools
import gzip
import io
import json
import os
import struct
import tempfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnn
from cnn.datasets import IdxFormatError, load_digit, read_idx
from cnn.layers import Affine, Dropout, Relu
from cnn.models import LeNet, Sequential
from cnn.optim import Adam
from cnn.trainer import Trainer
from extras import optional
from mnist_files import MNIST_DIR
from cnn_ext.runtime.memory import cached_memory_peak

EXAMPLES = int(os.environ.get("CNN_EXT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="CNN_EXT_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
#: Traced memory one parse may take: the largest valid input here needs a few MB.
MEMORY_BOUND = 64 << 20
OUTCOMES = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    for parser, counts in sorted(OUTCOMES.items()):
        print(f"\n{parser}: {sum(counts.values())} inputs: " +
              ", ".join(f"{count} {outcome}" for outcome, count in counts.most_common()))


def within_memory(parser: str, call, documented: tuple, bound: int = MEMORY_BOUND):
    """Run ``call``; it must return or raise one of ``documented``, within ``bound`` bytes: the
    peak of the live arrays (traced) and of the freed blocks cnn_ext's cache held meanwhile."""
    cached_memory_peak(reset=True)
    tracemalloc.start()
    try:
        try:
            result = call()
            OUTCOMES[parser]["loaded"] += 1
        except documented as error:
            result = error
            OUTCOMES[parser][type(error).__name__] += 1
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    cached = cached_memory_peak()
    assert traced + cached < bound, f"{parser} took {traced} bytes, and the cache held {cached}"
    return result


def mutate(data: bytes, draw) -> bytes:
    """Byte-level mutations: flips, overwrites with extreme values, cuts, insertions."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "word", "cut", "insert", "duplicate"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "word":
            word = draw(st.sampled_from([0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 65536]))
            data[position:position + 4] = struct.pack(">I", word)
        elif kind == "cut":
            del data[position:position + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            data[position:position] = data[position:position + draw(st.integers(1, 256))]
    return bytes(data)


# ---- IDX ----------------------------------------------------------------------------------

def small_idx(rows: int = 5) -> bytes:
    images = np.arange(rows * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(rows, 28, 28)
    return bytes([0, 0, 8, 3]) + struct.pack(">3I", *images.shape) + images.tobytes()


@FUZZ
@given(st.data(), st.booleans())
def test_fuzz_idx(tmp_path, data, compressed):
    content = mutate(small_idx(), data.draw)
    if compressed:
        content = mutate(gzip.compress(content), data.draw) if data.draw(st.booleans()) \
            else gzip.compress(content)
    path = tmp_path / "fuzzed-idx"
    path.write_bytes(content)
    result = within_memory("IDX", lambda: read_idx(path), (IdxFormatError,))
    if isinstance(result, np.ndarray):
        assert result.nbytes <= len(content) * (1 if not compressed else 1 << 20)


def test_fuzz_mnist_labels_file(tmp_path):
    """The loader on the real label file of the test set, mutated."""
    good = gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    from cnn.datasets.mnist import TEST_LABELS, _read_and_verify

    @FUZZ
    @given(st.data())
    def fuzz(data):
        path = tmp_path / "t10k-labels-idx1-ubyte.gz"
        path.write_bytes(gzip.compress(mutate(good, data.draw)))
        within_memory("MNIST labels", lambda: _read_and_verify(path, TEST_LABELS, str(path)),
                      (IdxFormatError,))

    fuzz()


# ---- .npz weights and checkpoints ---------------------------------------------------------

def npz_members(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _zip(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


def repack(members: dict, draw) -> bytes:
    """Structured mutations of an archive that keep its CRCs valid: a member's .npy header
    rewritten (shape, dtype), its data cut or grown, members dropped, renamed or added."""
    members = dict(members)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(members)))
        kind = draw(st.sampled_from(["header", "data", "drop", "rename", "add", "bytes"]))
        content = members[name]
        if kind == "header":
            shape = tuple(draw(st.lists(st.sampled_from([0, 1, 3, 6, 10, 2 ** 31, 2 ** 40]),
                                        max_size=4)))
            dtype = draw(st.sampled_from(["<f4", "<f8", "|u1", "<i8", "|O", "<U5", "|V0", ">f4"]))
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False,
                                                          "shape": shape})
            members[name] = header.getvalue() + content[128:]
        elif kind == "data":
            members[name] = content[:draw(st.integers(0, len(content)))] + \
                draw(st.binary(max_size=64))
        elif kind == "drop" and len(members) > 1:
            del members[name]
        elif kind == "rename":
            members[draw(st.sampled_from(["layers.0.W.npy", "meta.npy", "x.txt", "order.npy",
                                          "optimizer.steps.npy", "format_version.npy"]))] = \
                members.pop(name)
        elif kind == "add":
            members[f"extra{len(members)}.npy"] = content
        else:
            members[name] = mutate(content, draw)
    return _zip(members)


def tiny_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Affine(rng.standard_normal((4, 5)).astype(np.float32), np.zeros(5, np.float32)),
                       Relu(), Dropout(0.2, seed=seed),
                       Affine(rng.standard_normal((5, 3)).astype(np.float32), np.zeros(3, np.float32))])


def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)


@functools.lru_cache(maxsize=None)
def saved_file(name: str) -> bytes:
    """The valid file the fuzzers mutate: LeNet's weights or a small Trainer checkpoint."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        if name == "weights.npz":
            LeNet(seed=0).save(path)
        else:
            x, t = tiny_data()
            Trainer(tiny_model(), Adam(lr=0.01), batch_size=8, log=None, checkpoint=path).fit(
                x, t, epochs=1)
        return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_fuzz_weights(tmp_path, data):
    original = saved_file("weights.npz")
    content = mutate(original, data.draw) if data.draw(st.booleans()) else \
        repack(npz_members(io.BytesIO(original)), data.draw)
    path = tmp_path / "weights.npz"
    path.write_bytes(content)
    within_memory("weights (.npz)", lambda: LeNet(seed=0).load(path), (ValueError,))


#: Values a mutated architecture puts where a setting, a name or a list was.
JSON_VALUES = [None, True, -1, 0, 3, 2 ** 31, 10 ** 30, 0.5, float("nan"), "x", "Convolution",
               "Dropout", "SoftmaxWithLoss", "__init__", [], [1, 2], [2 ** 31, 2 ** 31],
               {}, {"pad": 10 ** 4}, {"bit_generator": "PCG64", "state": {}}]


def mutate_json(value, draw):
    """``value`` (parsed JSON) with one entry somewhere in it replaced, dropped or duplicated."""
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        kind = draw(st.sampled_from(["replace", "drop", "deeper"]))
        changed = dict(value)
        if kind == "drop":
            del changed[key]
        else:
            changed[key] = mutate_json(value[key], draw) if kind == "deeper" else \
                draw(st.sampled_from(JSON_VALUES))
        return changed
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        changed = list(value)
        kind = draw(st.sampled_from(["deeper", "drop", "duplicate"]))
        if kind == "drop":
            del changed[index]
        elif kind == "duplicate":
            changed.insert(index, value[index])
        else:
            changed[index] = mutate_json(value[index], draw)
        return changed
    return draw(st.sampled_from(JSON_VALUES))


@FUZZ
@given(data=st.data())
def test_fuzz_load_model(tmp_path, data):
    """cnn.load_model on a saved LeNet whose bytes, members or architecture JSON were mutated."""
    original = saved_file("weights.npz")
    kind = data.draw(st.sampled_from(["bytes", "members", "architecture"]))
    if kind == "bytes":
        content = mutate(original, data.draw)
    elif kind == "members":
        content = repack(npz_members(io.BytesIO(original)), data.draw)
    else:
        members = npz_members(io.BytesIO(original))
        with np.load(io.BytesIO(original)) as saved:
            architecture = json.loads(str(saved["architecture"]))
        text = json.dumps(mutate_json(architecture, data.draw))
        entry = io.BytesIO()
        np.lib.format.write_array(entry, np.array(text))
        members["architecture.npy"] = entry.getvalue()
        content = _zip(members)
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    result = within_memory("load_model (.npz)", lambda: cnn.load_model(path), (ValueError,))
    if not isinstance(result, ValueError):  # what loads predicts, or refuses the sample clearly
        x = np.zeros((1,) + (result.input_shape or (1, 28, 28)), result.dtype or np.float32)
        prediction = within_memory("predictions of a loaded model", lambda: result.predict(x),
                                   (ValueError,))
        assert isinstance(prediction, ValueError) or prediction.shape[0] == 1


@FUZZ
@given(data=st.data())
def test_fuzz_checkpoint(tmp_path, data):
    original = saved_file("checkpoint.npz")
    members = npz_members(io.BytesIO(original))
    choice = data.draw(st.sampled_from(["bytes", "repack", "meta"]))
    if choice == "bytes":
        content = mutate(original, data.draw)
    elif choice == "repack":
        content = repack(members, data.draw)
    else:  # the record of the run: JSON values changed, keys dropped
        meta = json.loads(str(np.lib.format.read_array(io.BytesIO(members["meta.npy"]))))
        key = data.draw(st.sampled_from(sorted(meta)))
        if data.draw(st.booleans()):
            del meta[key]
        else:
            meta[key] = data.draw(st.one_of(st.none(), st.booleans(), st.integers(-2, 10 ** 12),
                                            st.floats(allow_nan=True), st.text(max_size=5),
                                            st.lists(st.integers(), max_size=3),
                                            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)))
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.array(json.dumps(meta)))
        members["meta.npy"] = buffer.getvalue()
        content = repack(members, data.draw) if data.draw(st.booleans()) else _zip(members)
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(content)
    x, t = tiny_data()

    def resume():
        Trainer(tiny_model(), Adam(lr=0.01), batch_size=8, log=None, checkpoint=path).fit(
            x, t, epochs=2, resume=True)

    within_memory("checkpoint (.npz)", resume, (ValueError, FloatingPointError))


# ---- ONNX ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    onnx = optional("onnx", 'pip install ".[onnx]"')
    from cnn.interop import to_onnx
    path = tmp_path_factory.mktemp("onnx") / "lenet.onnx"
    to_onnx(LeNet(seed=0), path)
    return onnx, onnx.load(str(path))


ATTRIBUTE_VALUES = st.one_of(st.integers(-3, 300), st.sampled_from([2 ** 31, -2 ** 40, 10 ** 9]),
                             st.lists(st.integers(-2, 300), min_size=1, max_size=5),
                             st.floats(allow_nan=True),
                             st.sampled_from(["NOTSET", "SAME_UPPER", "VALID", "", "x"]),
                             st.lists(st.floats(-2, 2), min_size=1, max_size=3))


def mutate_model(onnx, model, draw):
    """Structured mutations of a valid model: attributes set to other values (ints, lists, floats,
    strings), operators renamed, inputs dropped or swapped, tensors given other shapes, types or
    external data, Constant nodes inserted, the input's shape changed."""
    from onnx import helper
    model = type(model).FromString(model.SerializeToString())
    graph = model.graph
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["attribute", "op", "inputs", "tensor", "constant", "input"]))
        node = graph.node[draw(st.integers(0, len(graph.node) - 1))]
        if kind == "attribute":
            name = draw(st.sampled_from(["kernel_shape", "strides", "pads", "dilations", "group",
                                         "auto_pad", "ceil_mode", "axis", "transB", "alpha",
                                         "count_include_pad", "epsilon"]))
            kept = [attribute for attribute in node.attribute if attribute.name != name]
            del node.attribute[:]
            node.attribute.extend(kept)
            node.attribute.append(helper.make_attribute(name, draw(ATTRIBUTE_VALUES)))
        elif kind == "op":
            node.op_type = draw(st.sampled_from(["Conv", "MaxPool", "AveragePool", "Gemm", "MatMul",
                                                 "Flatten", "Reshape", "Relu", "BatchNormalization",
                                                 "Constant", "Identity", "Add"]))
        elif kind == "inputs":
            inputs = list(node.input)
            if inputs and draw(st.booleans()):
                inputs.pop(draw(st.integers(0, len(inputs) - 1)))
            else:
                inputs.append(draw(st.sampled_from(["", "x", "layers.0.W", "missing"])))
            del node.input[:]
            node.input.extend(inputs)
        elif kind == "tensor" and len(graph.initializer):
            tensor = graph.initializer[draw(st.integers(0, len(graph.initializer) - 1))]
            change = draw(st.sampled_from(["dims", "type", "external", "data"]))
            if change == "dims":
                del tensor.dims[:]
                tensor.dims.extend(draw(st.lists(st.sampled_from([0, 1, 2, 6, 120, 2 ** 20, 2 ** 33]),
                                                 max_size=4)))
            elif change == "type":
                tensor.data_type = draw(st.integers(0, 25))
            elif change == "external":
                tensor.data_location = onnx.TensorProto.EXTERNAL
                entry = tensor.external_data.add()
                entry.key, entry.value = "location", draw(st.sampled_from(["../../etc/passwd", "w.bin"]))
            else:
                tensor.raw_data = tensor.raw_data[:draw(st.integers(0, len(tensor.raw_data)))]
        elif kind == "constant":
            constant = helper.make_node("Constant", [], [draw(st.sampled_from(["layers.0.W", "c"]))],
                                        **{draw(st.sampled_from(["value_ints", "value_floats",
                                                                 "value_int", "value_string"])):
                                           draw(st.sampled_from([[1, 2], [0.5], 3, "s"]))})
            graph.node.insert(draw(st.integers(0, len(graph.node))), constant)
        else:
            dims = graph.input[0].type.tensor_type.shape.dim
            if len(dims) > 1:
                dims[draw(st.integers(1, len(dims) - 1))].dim_value = draw(
                    st.sampled_from([1, 3, 28, 10 ** 6, 2 ** 40]))
    return model.SerializeToString()


@FUZZ
@given(data=st.data())
def test_fuzz_onnx(tmp_path, onnx_model, data):
    onnx, model = onnx_model
    from cnn.interop import from_onnx
    from cnn.interop.onnx_import import MAX_IMPORT_SAMPLE_ELEMENTS
    if data.draw(st.integers(0, 3)) == 0:
        content = mutate(model.SerializeToString(), data.draw)
    else:
        content = mutate_model(onnx, model, data.draw)
    path = tmp_path / "fuzzed.onnx"
    path.write_bytes(content)

    result = within_memory("ONNX", lambda: from_onnx(path), (ValueError,))
    if isinstance(result, ValueError):
        assert str(result).startswith("from_onnx: "), str(result)
    elif result.input_shape is not None:  # a model that loads runs, within the import's bounds
        sample = np.zeros((1,) + result.input_shape, np.float32)
        within_memory("ONNX predict", lambda: result.predict(sample), (ValueError,),
                      bound=16 * 4 * MAX_IMPORT_SAMPLE_ELEMENTS)


# ---- drawn digits -------------------------------------------------------------------------

def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, rows: bytes, depth: int = 8, colour: int = 0) -> bytes:
    """A PNG whose IHDR says ``width`` x ``height`` and whose data is ``rows`` (CRCs valid)."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + \
        png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


@FUZZ
@given(data=st.data())
def test_fuzz_load_digit(tmp_path, data):
    optional("PIL", 'reading images needs Pillow: pip install "cnn-ext[plot]"')
    digits = sorted((MNIST_DIR.parents[1] / "examples" / "digits").glob("*.png"))
    choice = data.draw(st.sampled_from(["bytes", "header"]))
    if choice == "bytes":
        content = mutate(data.draw(st.sampled_from(digits)).read_bytes(), data.draw)
    else:  # a valid PNG container around a hostile header: sizes, depths, colour types
        width = data.draw(st.sampled_from([1, 2, 28, 300, 70000, 2 ** 31 - 1]))
        height = data.draw(st.sampled_from([1, 3, 28, 300, 70000, 2 ** 31 - 1]))
        depth = data.draw(st.sampled_from([1, 2, 4, 8, 16]))
        colour = data.draw(st.sampled_from([0, 2, 3, 4, 6]))
        rows = data.draw(st.binary(max_size=2048)) if data.draw(st.booleans()) else \
            bytes(min(width * height * 8, 1 << 20) // 4)
        content = png(width, height, rows, depth, colour)
    path = tmp_path / "digit.png"
    path.write_bytes(content)
    result = within_memory("load_digit", lambda: load_digit(path), (ValueError,))
    if isinstance(result, np.ndarray):
        assert result.shape == (1, 1, 28, 28) and np.isfinite(result).all()
