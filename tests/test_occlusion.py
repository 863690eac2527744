"""The occlusion engine against a naive loop, a hand-computable model and Captum's Occlusion.

Expected values come from independent sources: a one-position-at-a-time loop written here, closed
forms computed by hand with math.exp, and captum.attr.Occlusion. Most checks use tiny float64
models on small images, so they are exact to rounding and fast.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import Occlusion
from helpers import random_cnn

from bench.occlusion_peers import naive_occlude
from common.core.cli import UserError
from common.nets.cnn import CNN
from common.occlusion.engine import (
    FoldedCNN,
    IncrementalCNN,
    Window,
    changed_windows,
    check_window,
    fold_batch_norm,
    full_flops,
    incremental_pays,
    num_positions,
    occlude,
    occluded_batch,
    occlusion_masks,
    plan_blocks,
    plan_flops,
)


class TinyCNN(nn.Module):
    """conv 3x3 (1->4) -> ReLU -> 2x2 average pool of the feature map -> linear to K classes."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.conv(x)), 2).flatten(1))


class PixelSum(nn.Module):
    """Logits (S, 8, 0) with S the sum of all pixels: softmax probabilities by hand."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.sum(dim=(1, 2, 3))
        return torch.stack([s, torch.full_like(s, 8.0), torch.zeros_like(s)], dim=1)


def tiny(classes: int = 5, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return TinyCNN(classes).double().eval()


def digit_like(h: int = 28, w: int = 28, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    """A [1, H, W] image: random strokes in the middle, an all-zero border of 6 px."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(1, h, w, dtype=dtype)
    x[:, 6:h - 6, 6:w - 6] = (torch.rand(1, h - 12, w - 12, generator=g) > 0.6).to(dtype)
    return x


# ----------------------------------------------------------------------------- the naive loop
@pytest.mark.parametrize("size,patch,stride,fill", [
    (10, 3, 1, 0.0), (10, 4, 3, 0.0), (11, 5, 2, 0.7), (9, 9, 1, 0.0), (12, 1, 1, 1.0),
])
def test_matches_naive_loop_on_tiny_model(size, patch, stride, fill):
    model = tiny()
    images = torch.rand(3, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = occlude(model, images, patch=patch, stride=stride, fill=fill)
    want = torch.stack([naive_occlude(model, img, patch, stride, fill) for img in images])
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_matches_naive_loop_on_problem1_architecture():
    model = random_cnn().double()
    image = digit_like(dtype=torch.float64)
    got = occlude(model, image, patch=8, stride=1)
    assert got.shape == (21, 21, 10)
    torch.testing.assert_close(got, naive_occlude(model, image, 8, 1, 0.0), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- by hand
@pytest.mark.parametrize("fill", [0.0, 0.5])
def test_pixel_sum_model_by_hand(fill):
    # Image 6x6 with x[i, j] = i / 10: total S = 6 * (0 + 1 + ... + 5) / 10 = 9.0. A 2x2 patch with
    # top-left row r removes 2 * (r + r + 1) / 10 and adds 4 * fill, whatever its column.
    image = (torch.arange(6, dtype=torch.float64) / 10)[:, None].expand(6, 6)[None].clone()
    got = occlude(PixelSum().eval(), image, patch=2, stride=2, fill=fill)
    assert got.shape == (3, 3, 3)
    for R, r in enumerate((0, 2, 4)):
        s = 9.0 - 2 * (2 * r + 1) / 10 + 4 * fill
        z = math.exp(s) + math.exp(8.0) + 1.0
        want = [math.exp(s) / z, math.exp(8.0) / z, 1.0 / z]
        for C in range(3):
            assert got[R, C].tolist() == pytest.approx(want, rel=1e-12)
    # Spot check of the closed form: fill 0, r = 4 -> S = 7.2 < 8, so class 1 wins there.
    if fill == 0.0:
        assert got[2, 0].argmax() == 1 and got[0, 0].argmax() == 0


# ----------------------------------------------------------------------------- Captum
@pytest.mark.parametrize("model_name,size,patch,stride,fill", [
    ("tiny", 10, 4, 2, 0.0),
    ("tiny", 12, 4, 4, 0.3),
    ("tiny", 9, 3, 1, 0.0),
    ("cnn", 28, 8, 1, 0.0),
    ("cnn", 28, 8, 4, 0.0),
])
def test_matches_captum_occlusion(model_name, size, patch, stride, fill):
    # Only (size - patch) % stride == 0, so every pixel is covered and Captum's windows are ours.
    model = tiny(10) if model_name == "tiny" else random_cnn().double()
    image = digit_like(size, size, seed=3, dtype=torch.float64) if size > 12 else \
        torch.rand(1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        clean = F.softmax(model(image[None]), dim=1)[0]
    target = int(clean.argmin())  # a class whose probability moves, not one pinned near 1
    attr = Occlusion(lambda x: F.softmax(model(x), dim=1)).attribute(
        image[None], sliding_window_shapes=(1, patch, patch), strides=(1, stride, stride),
        baselines=fill, target=target, perturbations_per_eval=16)[0, 0]

    probs = occlude(model, image, patch=patch, stride=stride, fill=fill)
    drop = clean[target] - probs[..., target]  # [P, P]: p(target | clean) - p(target | occluded)
    total = torch.zeros(size, size, dtype=torch.float64)
    count = torch.zeros(size, size, dtype=torch.float64)
    for r in range(drop.shape[0]):
        for c in range(drop.shape[1]):
            total[r * stride:r * stride + patch, c * stride:c * stride + patch] += drop[r, c]
            count[r * stride:r * stride + patch, c * stride:c * stride + patch] += 1
    assert (count > 0).all()
    # Captum sums the differences in float64 and divides in float32 (`attrib.float() / weight`).
    torch.testing.assert_close(total.float() / count.float(), attr, rtol=0, atol=1e-7)
    assert attr.abs().max() > 1e-6  # the comparison is not between two zero maps


# ----------------------------------------------------------------------------- chunks, shapes
def test_result_does_not_depend_on_chunk_size():
    model = tiny()
    images = torch.rand(2, 1, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    ref = occlude(model, images, patch=3, stride=1, chunk=1)
    for chunk in (7, 64, 128, 10_000):
        torch.testing.assert_close(occlude(model, images, patch=3, stride=1, chunk=chunk), ref,
                                   rtol=0, atol=1e-12)


def test_chunk_size_on_the_float32_cnn():
    model = random_cnn()
    image = digit_like()
    ref = occlude(model, image, chunk=441)
    for chunk in (1, 50, 128):
        torch.testing.assert_close(occlude(model, image, chunk=chunk), ref, rtol=0, atol=1e-6)


def test_forward_batches_stay_within_the_chunk():
    model = tiny()
    seen: list[int] = []
    model.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].shape[0]))
    images = torch.rand(5, 1, 10, 10, dtype=torch.float64)
    occlude(model, images, patch=3, stride=1, chunk=37)
    assert max(seen) <= 37 and sum(seen) == 5 * 8 * 8


@pytest.mark.parametrize("patch,stride", [(8, 1), (8, 2), (8, 4), (8, 8), (1, 1), (5, 3), (28, 1),
                                          (28, 28), (27, 2)])
def test_shapes(patch, stride):
    model = tiny(10, seed=5).float()
    p = len(range(0, 28 - patch + 1, stride))  # top-left corners 0, stride, ... <= 28 - patch
    single = occlude(model, digit_like(), patch=patch, stride=stride)
    assert single.shape == (p, p, 10)
    batch = occlude(model, torch.stack([digit_like(seed=s) for s in range(3)]), patch=patch,
                    stride=stride)
    assert batch.shape == (3, p, p, 10)
    torch.testing.assert_close(batch.sum(-1), torch.ones(3, p, p))
    torch.testing.assert_close(batch[0], single, rtol=0, atol=1e-6)


def test_rectangular_images_use_rows_and_columns_separately():
    model = tiny()
    image = torch.rand(1, 8, 12, dtype=torch.float64)
    got = occlude(model, image, patch=4, stride=2)
    assert got.shape == (3, 5, 5)
    torch.testing.assert_close(got, naive_occlude(model, image, 4, 2, 0.0), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- the CNN's fast path
def random_cnn_any_bn(seed: int = 0) -> CNN:
    """random_cnn with random batch-norm scales and shifts too, some scales negative."""
    model = random_cnn(seed)
    with torch.no_grad():
        for bn in (model.bn1, model.bn2, model.bn3):
            bn.weight.uniform_(-1.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    return model


def plain_occlude(model: nn.Module, images: torch.Tensor, patch: int, stride: int,
                  fill: float) -> torch.Tensor:
    """The straightforward path: every occluded copy through the unmodified model, one batch."""
    n, _, h, w = images.shape
    masks = occlusion_masks(h, w, patch, stride)
    with torch.no_grad():
        probs = F.softmax(model(occluded_batch(images, masks, torch.arange(n * len(masks)), fill)), 1)
    return probs.reshape(n, (h - patch) // stride + 1, (w - patch) // stride + 1, -1)


@pytest.mark.parametrize("size", [(28, 28), (31, 26)])
@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_folded_cnn_equals_the_cnn(dtype, atol, size):
    # float32 runs in oneDNN's blocked layout, float64 in channels_last. Sizes 24-31 all reach
    # 3x3 after three pools, so the CNN accepts them; odd ones make the pools drop a row.
    model = random_cnn_any_bn().to(dtype)
    x = torch.rand(16, 1, *size, dtype=dtype, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(FoldedCNN(model)(x), model(x), rtol=0, atol=atol)


def test_fold_batch_norm_with_a_conv_bias():
    torch.manual_seed(1)
    conv, bn = nn.Conv2d(3, 5, 3, padding=1).double(), nn.BatchNorm2d(5).double()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(-2, 2), bn.bias.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(fold_batch_norm(conv, bn)(x), bn(conv(x)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("size,patch,stride,fill", [
    ((28, 28), 8, 1, 0.0), ((28, 28), 8, 3, 1.0), ((28, 28), 1, 1, 0.0), ((28, 28), 3, 2, 0.7),
    ((28, 28), 13, 1, 0.0), ((28, 28), 28, 1, 0.3), ((28, 28), 5, 5, 0.0), ((26, 30), 6, 1, 0.0),
    ((31, 24), 7, 2, 0.5),
])
def test_cnn_fast_path_matches_the_plain_model(size, patch, stride, fill):
    model = random_cnn_any_bn(seed=3).double()
    g = torch.Generator().manual_seed(5)
    images = torch.rand(2, 1, *size, dtype=torch.float64, generator=g)
    got = occlude(model, images, patch=patch, stride=stride, fill=fill, chunk=97)
    torch.testing.assert_close(got, plain_occlude(model, images, patch, stride, fill),
                               rtol=0, atol=1e-12)


def test_cnn_fast_path_float32_on_digits():
    model = random_cnn_any_bn(seed=4)
    images = torch.stack([digit_like(seed=s) for s in range(3)])
    got = occlude(model, images)
    torch.testing.assert_close(got, plain_occlude(model, images, 8, 1, 0.0), rtol=0, atol=1e-5)
    # Chunks that split an image's positions, or hold several images, give the same maps.
    for chunk in (7, 100, 441, 1000):
        torch.testing.assert_close(occlude(model, images, chunk=chunk), got, rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- the incremental engine
WINDOWS = [((28, 28), 8, 1, 0.0), ((28, 28), 8, 3, 1.0), ((28, 28), 1, 1, 0.0), ((28, 28), 4, 2, 0.7),
           ((28, 28), 13, 1, 0.0), ((28, 28), 28, 1, 0.3), ((26, 30), 6, 1, 0.0), ((31, 24), 7, 2, 0.5)]


@pytest.mark.parametrize("size,patch,stride,fill", WINDOWS)
def test_changed_windows_hold_every_changed_activation(size, patch, stride, fill):
    # Brute force: run every block on the clean and on each occluded image, in full, and find
    # the activations that differ; each must lie inside the window changed_windows predicts.
    net = FoldedCNN(random_cnn_any_bn(seed=6).double())
    image = torch.rand(1, 1, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    masks = occlusion_masks(*size, patch, stride)
    occluded = occluded_batch(image, masks, torch.arange(len(masks)), fill)
    rows = changed_windows(torch.arange(num_positions(size[0], patch, stride)) * stride, patch, size[0], 3)
    cols = changed_windows(torch.arange(num_positions(size[1], patch, stride)) * stride, patch, size[1], 3)
    q = len(cols[0][0])
    clean, occ = net.normalize(image), net.normalize(occluded)
    for i in range(3):
        clean, occ = net.block(i, clean), net.block(i, occ)
        (r0, wr), (c0, wc) = rows[i + 1], cols[i + 1]
        for k in range(len(masks)):
            r, c = divmod(k, q)
            diff = (occ[k] - clean[0]).abs().amax(0) > 0  # [H_i, W_i]
            window = torch.zeros_like(diff)
            window[r0[r]:r0[r] + wr, c0[c]:c0[c] + wc] = True
            assert not (diff & ~window).any(), (i, r, c)


@pytest.mark.parametrize("size,patch,stride,fill", WINDOWS)
def test_incremental_engine_matches_the_naive_loop(size, patch, stride, fill):
    # Called directly, so also on windows where occlude would pick the full forward.
    model = random_cnn_any_bn(seed=8).double()
    images = torch.rand(2, 1, *size, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    engine = IncrementalCNN(FoldedCNN(model), images, patch, stride, fill)
    p, q = num_positions(size[0], patch, stride), num_positions(size[1], patch, stride)
    with torch.no_grad():
        got = F.softmax(engine(torch.arange(2 * p * q)), 1).reshape(2, p, q, 10)
    want = torch.stack([naive_occlude(model, img, patch, stride, fill) for img in images])
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_incremental_engine_float32_any_step_size():
    # Steps that split an image's positions, or hold several images, give the naive loop's maps.
    model = random_cnn_any_bn(seed=10)
    images = torch.stack([digit_like(seed=s) for s in range(3)])
    want = torch.stack([naive_occlude(model, img, 8, 1, 0.0) for img in images])
    for chunk in (1, 7, 256, 441, 1000):
        torch.testing.assert_close(occlude(model, images, chunk=chunk), want, rtol=0, atol=1e-5)


def test_incremental_flops_by_hand_and_by_counter():
    # 8x8 patch on 28x28: block crops 14x14 -> conv 12x12 (1->16), 12x12 -> 10x10 (16->32),
    # 8x8 -> 6x6 (32->64), then the 576->10 classifier; 2 FLOPs per multiply-add.
    net = FoldedCNN(random_cnn())
    plans = plan_blocks(28, 28, 8, 1)
    by_hand = 2 * (144 * 16 * 9 + 100 * 32 * 16 * 9 + 36 * 64 * 32 * 9 + 576 * 10)
    full = 2 * (784 * 16 * 9 + 196 * 32 * 16 * 9 + 49 * 64 * 32 * 9 + 576 * 10)
    assert plan_flops(plans, net) == by_hand and full_flops(28, 28, net) == full
    engine = IncrementalCNN(net, digit_like()[None], 8, 1, 0.0)
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        engine(torch.arange(441))
    assert counter.get_total_flops() == 441 * by_hand
    assert incremental_pays(net, 28, 28, 8, 1) and not incremental_pays(net, 28, 28, 28, 1)


# ----------------------------------------------------------------------------- blank background
def test_patch_over_blank_background_leaves_probabilities_unchanged():
    model = random_cnn()
    image = digit_like()  # ink only inside rows/cols 6..21
    probs = occlude(model, image, patch=4, stride=1)  # 25 x 25 positions
    with torch.no_grad():
        clean = F.softmax(model(image[None]), dim=1)[0]
    blank = [(r, c) for r in range(25) for c in range(25)
             if image[0, r:r + 4, c:c + 4].abs().sum() == 0]
    on_ink = [(r, c) for r in range(25) for c in range(25) if (r, c) not in blank]
    assert len(blank) > 100 and on_ink
    for r, c in blank:
        torch.testing.assert_close(probs[r, c], clean, rtol=0, atol=1e-6)
    # ... while patches over the strokes do change them, so the check above can fail.
    assert max((probs[r, c] - clean).abs().max().item() for r, c in on_ink) > 1e-3


def test_caller_model_is_not_modified():
    model = random_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    occlude(model, digit_like(), patch=8)
    assert model.conv2.weight.is_contiguous()  # the fast copy (FoldedCNN) stays inside occlude
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not model.training


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("patch,stride,message", [
    (0, 1, "patch must be between 1 and 28"),
    (29, 1, "patch must be between 1 and 28"),
    (8, 0, "stride must be between 1 and the patch size"),
    (8, 9, "stride must be between 1 and the patch size"),
    (8.0, 1, "patch must be an integer"),
    (True, 1, "patch must be an integer"),
])
def test_bad_window_or_stride_is_a_user_error(patch, stride, message):
    with pytest.raises(UserError, match=message):
        check_window(patch, stride)
    with pytest.raises(UserError, match=message):
        occlude(tiny(), torch.zeros(1, 28, 28, dtype=torch.float64), patch=patch, stride=stride)


def test_check_window_returns_the_window_it_checked():
    assert check_window(8, 1) == Window(8, 1, 0.0)
    assert check_window(6, 2, 0.5) == Window(patch=6, stride=2, fill=0.5)
    with pytest.raises(UserError, match="fill must be a finite"):
        check_window(8, 1, float("inf"))


def test_other_bad_inputs_are_user_errors():
    model = tiny()
    x = torch.zeros(1, 10, 10, dtype=torch.float64)
    with pytest.raises(UserError, match=r"\[C, H, W\] or \[N, C, H, W\]"):
        occlude(model, x[0], patch=3)
    with pytest.raises(UserError, match="between 1 and 10"):
        occlude(model, x, patch=11)
    with pytest.raises(UserError, match="chunk"):
        occlude(model, x, patch=3, chunk=0)
    with pytest.raises(UserError, match="fill"):
        occlude(model, x, patch=3, fill=float("nan"))
    with pytest.raises(UserError, match="training mode"):
        occlude(model.train(), x, patch=3)
