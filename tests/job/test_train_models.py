"""The main job trains any of the ready models, each with its own defaults, and records which."""

import json
import re

import pytest

from cnn import train
from mnist_files import MNIST_DIR


def run(out, *flags):
    return train.main(["--data-dir", str(MNIST_DIR), "--train-size", "64", "--epochs", "1",
                       "--out", str(out), *flags])


def test_each_model_has_its_own_defaults():
    for model, epochs, batch, augment in (("lenet", 12, 32, False), ("simpleconvnet", 10, 100, False),
                                          ("deepconvnet", 20, 100, True)):
        args = train.parse_args(["--model", model])
        assert (args.epochs, args.batch_size, args.augment) == (epochs, batch, augment)
        assert str(args.out) == f"runs/{model}"
    assert train.parse_args(["--model", "deepconvnet", "--no-augment"]).augment is False
    assert train.parse_args(["--augment"]).augment is True
    assert train.parse_args([]).model == "lenet"


def test_every_flag_has_its_help(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    options = capsys.readouterr().out.split("options:")[1]
    entries = re.split(r"\n  (?=-)", options)[1:]
    bare = [entry.split()[0] for entry in entries
            if len(entry.splitlines()) == 1 and not re.search(r"\S\s{2,}\S", entry)]
    assert len(entries) > 15 and not bare, f"flags without help: {bare}"
    assert "precision of the weights" in options


def test_deepconvnet_trains_and_records_its_model_and_augmentation(tmp_path, capsys):
    assert run(tmp_path, "--model", "deepconvnet") == 0
    output = capsys.readouterr().out
    assert ", 1 epoch, " in output and "1 epochs" not in output
    assert "DeepConvNet (123,552 parameters" in output and "augmented by RandomShift(2)" in output
    assert "train acc: 64 training images in inference mode" in output
    assert output.strip().splitlines()[-1].startswith("test accuracy: 0.")
    saved = json.loads((tmp_path / "run.json").read_text())
    assert (saved["model"], saved["augment"]) == ("deepconvnet", True)


@pytest.mark.parametrize("flags, words", [
    (["--model", "lenet"], ["--model deepconvnet there, lenet here"]),
    (["--model", "deepconvnet", "--no-augment"], ["--augment True there, False here"]),
])
def test_another_model_or_augmentation_in_the_same_out_is_refused_by_name(tmp_path, capsys, flags, words):
    assert run(tmp_path, "--model", "deepconvnet") == 0
    capsys.readouterr()
    assert run(tmp_path, *flags) == 2
    message = capsys.readouterr().err
    for word in words:
        assert word in message, message


def test_a_run_of_an_earlier_version_is_a_lenet_without_augmentation(tmp_path, capsys):
    assert run(tmp_path) == 0
    saved = json.loads((tmp_path / "run.json").read_text())
    del saved["model"], saved["augment"]  # what cnn-ext 0.1 wrote
    (tmp_path / "run.json").write_text(json.dumps(saved))
    capsys.readouterr()
    assert run(tmp_path) == 0
    assert "holds a finished run of these settings" in capsys.readouterr().out
