"""The main job's --out folder across runs: --resume with nothing to resume, a finished run
trained on to more epochs, figures written again when missing, and Ctrl-C while they are
written. In-process, on 64 images."""

import json

import pytest

from cnn import train
from cnn.schedules import cosine
from mnist_files import MNIST_DIR

FLAGS = ["--data-dir", str(MNIST_DIR), "--train-size", "64", "--batch-size", "32"]


def job(out, *flags):
    return train.main([*FLAGS, "--out", str(out), *flags])


def epochs_of(out):
    return json.loads((out / "history.json").read_text())


def test_resume_with_nothing_to_resume_says_so_and_starts_nothing(tmp_path, capsys):
    assert job(tmp_path / "typo", "--epochs", "1", "--resume") == 2
    error = capsys.readouterr().err
    assert "--resume" in error and "no checkpoint.npz" in error and "leave out --resume" in error
    assert not (tmp_path / "typo" / "weights.npz").exists()
    assert not (tmp_path / "typo" / "run.json").exists()


def test_a_finished_run_trains_on_to_a_larger_epochs_with_the_schedule_stretched(tmp_path, capsys):
    assert job(tmp_path, "--epochs", "1") == 0
    first = epochs_of(tmp_path)
    capsys.readouterr()
    assert job(tmp_path, "--epochs", "3") == 2
    assert "add --resume to train it on to --epochs 3" in capsys.readouterr().err
    assert job(tmp_path, "--epochs", "3", "--resume") == 0
    output = capsys.readouterr().out
    assert "| epoch 1 " not in output and "| epoch 2 " in output and "| epoch 3 " in output
    history = epochs_of(tmp_path)
    assert history[0] == first[0]
    lr = first[0]["lr"]
    assert [record["lr"] for record in history] == pytest.approx([cosine(lr, 3)(epoch) for epoch in range(3)])
    assert json.loads((tmp_path / "run.json").read_text())["epochs"] == 3
    assert job(tmp_path, "--epochs", "3") == 0
    assert "holds a finished run of these settings" in capsys.readouterr().out
    assert job(tmp_path, "--epochs", "2", "--resume") == 2
    assert "--epochs 2 would train none" in capsys.readouterr().err
    assert job(tmp_path, "--epochs", "4", "--seed", "5", "--resume") == 2
    assert "--seed 0 there, 5 here" in capsys.readouterr().err


def test_a_rerun_of_a_finished_run_writes_its_missing_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert job(tmp_path, "--epochs", "1") == 0
    kept = (tmp_path / "curves.png").stat().st_mtime_ns
    (tmp_path / "confusion.png").unlink()
    capsys.readouterr()
    assert job(tmp_path, "--epochs", "1") == 0
    output = capsys.readouterr().out
    assert f"figures written: {tmp_path / 'confusion.png'}\n" in output
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "curves.png").stat().st_mtime_ns == kept
    assert job(tmp_path, "--epochs", "1") == 0
    assert "figures written" not in capsys.readouterr().out


def test_ctrl_c_while_the_figures_are_written_is_one_line_and_a_rerun_writes_them(tmp_path, capsys,
                                                                                  monkeypatch):
    figure = pytest.importorskip("matplotlib.figure")
    drawn = figure.Figure.savefig

    def cut_short(self, file, **options):
        file.write(b"\x89PNG half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(figure.Figure, "savefig", cut_short)
    assert job(tmp_path, "--epochs", "1") == 130
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "Traceback" not in error
    assert "interrupted while writing the results" in error and "--resume" in error
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob(".tmp-*"))
    monkeypatch.setattr(figure.Figure, "savefig", drawn)
    assert job(tmp_path, "--epochs", "1", "--resume") == 0
    for name in ("curves.png", "filters.png", "confusion.png", "misclassified.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
