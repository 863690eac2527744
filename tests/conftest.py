"""Shared fixtures: a CNN trained for a few seconds on mnist5k, saved in a temporary folder."""
import pytest

from common.cnn import checkpoint_path, save_checkpoint, train_cnn
from common.data import load_mnist


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """A folder holding cnn-mnist5k.pt, trained for 2 epochs (about 96% test accuracy).

    Scripts under test get `--data mnist5k --checkpoints <this folder>`, so they never touch the
    repository's own checkpoints/.
    """
    folder = tmp_path_factory.mktemp("checkpoints")
    train, test = load_mnist("train", "mnist5k"), load_mnist("test", "mnist5k")
    model, meta = train_cnn(train, test, seed=0, epochs=2, progress=False)
    meta["source"] = "mnist5k"
    save_checkpoint(model, meta, checkpoint_path("mnist5k", folder))
    return folder
