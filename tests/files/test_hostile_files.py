"""Damaged and hostile files are refused with the documented error, in bounded memory."""

import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from cnn import train
from cnn.models import LeNet
from cnn.optim import Adam
from cnn.storage import atomic_write_npz, read_npz
from cnn.trainer import Trainer
from mnist_files import MNIST_DIR, first_training_images


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def forged_npy(shape, dtype="<f4", data=b"") -> bytes:
    """A .npy member whose header declares ``shape`` but which holds only ``data``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue() + data


def write_archive(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(f"{name}.npy", content)


def saved_lenet(tmp_path):
    path = tmp_path / "lenet.npz"
    LeNet(seed=0).save(path)
    return path, dict(np.load(path))


def test_a_header_claiming_terabytes_is_a_value_error_not_a_memory_error(tmp_path):
    _, state = saved_lenet(tmp_path)
    members = {name: npy_bytes(array) for name, array in state.items()}
    members["layers.0.W"] = forged_npy((1 << 20, 1 << 21), data=bytes(64))  # 8 TiB of float32
    write_archive(tmp_path / "forged.npz", members)
    with pytest.raises(ValueError, match=r"'layers.0.W'.*\(1048576, 2097152\)"):
        LeNet(seed=0).load(tmp_path / "forged.npz")


def test_unexpected_names_are_refused_before_any_data_is_read(tmp_path):
    _, state = saved_lenet(tmp_path)
    state["layers.99.W"] = np.zeros(50 << 18, np.float32)  # 50 MiB nobody asked for
    atomic_write_npz(tmp_path / "extra.npz", state)
    model = LeNet(seed=0)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="it has 'layers.99.W', which the model lacks"):
            model.load(tmp_path / "extra.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"refusing the file read {peak} bytes"


def test_object_arrays_and_foreign_members_are_refused(tmp_path):
    write_archive(tmp_path / "object.npz", {"format_version": forged_npy((), "|O", bytes(8))})
    with pytest.raises(ValueError, match="dtype object"):
        read_npz(tmp_path / "object.npz")
    with zipfile.ZipFile(tmp_path / "foreign.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="'notes.txt'"):
        read_npz(tmp_path / "foreign.npz")


def test_read_npz_bounds_the_total_size(tmp_path):
    atomic_write_npz(tmp_path / "two.npz", {"a": np.zeros(1000), "b": np.zeros(1000)})
    with pytest.raises(ValueError, match="more than 12000 bytes of arrays"):
        read_npz(tmp_path / "two.npz", max_bytes=12000)
    assert set(read_npz(tmp_path / "two.npz", max_bytes=16000)) == {"a", "b"}


def trained_checkpoint(tmp_path):
    x, t = first_training_images(64)
    checkpoint = tmp_path / "checkpoint.npz"
    Trainer(LeNet(seed=0), Adam(lr=1e-3), batch_size=32, log=None, checkpoint=checkpoint).fit(
        x, t, epochs=1)
    with np.load(checkpoint) as saved:
        return x, t, checkpoint, dict(saved)


def resume(checkpoint, x, t):
    Trainer(LeNet(seed=0), Adam(lr=1e-3), batch_size=32, log=None, checkpoint=checkpoint).fit(
        x, t, epochs=2, resume=True)


@pytest.mark.parametrize("change, words", [
    (lambda a: a.update(meta=np.array("{}")), ["meta", "epoch=None"]),
    (lambda a: a.update(meta=np.array("[" * 100000 + "]" * 100000)), ["meta", "not JSON"]),
    (lambda a: a.update(meta=np.array(json.dumps(dict(json.loads(str(a["meta"])), rng={"x": 1})))),
     ["damaged generator state"]),
    (lambda a: a.update(meta=np.array(json.dumps(dict(json.loads(str(a["meta"])), step=99)))),
     ["does not describe a run"]),
    (lambda a: a.update({"order": np.zeros(64, np.int64)}), ["'order' is not an order"]),
    (lambda a: a.update({"optimizer.first_moment.layers.0.W": np.zeros(3, np.float32)}),
     ["the optimizer's", "first_moment.layers.0.W", "(3,)"]),
    (lambda a: a.update({"stray": np.zeros(3)}), ["'stray'"]),
], ids=["empty-meta", "deep-json", "rng", "step", "order", "optimizer-shape", "stray"])
def test_a_damaged_checkpoint_is_a_value_error_naming_it(tmp_path, change, words):
    x, t, checkpoint, arrays = trained_checkpoint(tmp_path)
    change(arrays)
    atomic_write_npz(checkpoint, arrays)
    with pytest.raises(ValueError) as error:
        resume(checkpoint, x, t)
    message = str(error.value)
    for word in ["checkpoint", str(checkpoint)] + words:
        assert word in message, f"{word!r} missing from {message!r}"


def main_flags(out):
    return ["--data-dir", str(MNIST_DIR), "--train-size", "64", "--epochs", "1", "--out", str(out)]


@pytest.mark.parametrize("name", ["history.json", "run.json"])
def test_a_torn_record_of_the_main_job_is_named_with_what_to_do(tmp_path, capsys, name):
    assert train.main(main_flags(tmp_path)) == 0
    record = tmp_path / name
    record.write_text(record.read_text()[:40])  # torn, as by a crash in the middle of a write
    capsys.readouterr()
    assert train.main(main_flags(tmp_path)) == 2
    message = capsys.readouterr().err
    assert f"{record} is damaged" in message
    assert "choose another --out, or delete that folder" in message


def test_text_records_are_written_atomically(tmp_path, monkeypatch):
    from cnn.storage import atomic_write_text
    path = tmp_path / "run.json"
    atomic_write_text(path, '{"epochs": 1}\n')

    def crash(descriptor):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_text(path, '{"epochs": 2, "and much more": true}\n')
    assert path.read_text() == '{"epochs": 1}\n'  # the old file, whole
    assert [entry.name for entry in tmp_path.iterdir()] == ["run.json"]  # no temporary left
