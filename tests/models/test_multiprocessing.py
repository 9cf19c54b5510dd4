"""A model used in a parent process predicts the same in children made by fork, as a
multiprocessing.Pool with the fork start method makes them."""

import os
import subprocess
import sys
import textwrap

import pytest
from paths import TESTS

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")

SCRIPT = textwrap.dedent("""
    import multiprocessing, sys, warnings
    import numpy as np
    sys.path.insert(0, {tests!r})
    from mnist_files import first_training_images
    from cnn.models import LeNet
    from cnn.optim import Adam
    from cnn.trainer import Trainer

    warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: fork of a threaded process
    x, t = first_training_images(256)
    model = LeNet(seed=0)
    Trainer(model, Adam(lr=2e-3), batch_size=32, log=None).fit(x, t, epochs=1)  # the engine ran

    def predict(chunk):
        return model.predict_batches(x[chunk * 64:(chunk + 1) * 64])

    expected = np.concatenate([predict(chunk) for chunk in range(4)])

    with multiprocessing.get_context("fork").Pool(2) as pool:
        scores = np.concatenate(pool.map(predict, range(4)))
    assert np.array_equal(scores, expected), "the children predicted otherwise"
    print("same predictions in", len(scores), "samples")
""")


def test_a_fork_pool_predicts_like_the_parent_after_training(tmp_path):
    script = SCRIPT.format(tests=str(TESTS))
    try:  # run from elsewhere than the clone, whose source folder cnn_ext/ has no built modules
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("the fork pool hung: its children waited on the parent's engine threads")
    assert result.returncode == 0, result.stderr
    assert "same predictions in 256 samples" in result.stdout
