"""Occlusion sensitivity: the model's softmax output for every position of a square patch.

    probs = occlude(model, image, patch=8, stride=1, fill=0.0)   # image [1, 28, 28] -> [P, P, 10]
    probs = occlude(model, images)                                # images [N, 1, 28, 28] -> [N, P, P, 10]

Map cell (r, c) is the patch whose TOP-LEFT corner sits at pixel (row r*stride, column c*stride);
its centre is at (r*stride + (patch-1)/2, c*stride + (patch-1)/2). P = (28 - patch) // stride + 1,
so an 8x8 patch with stride 1 gives a 21 x 21 map. The patch pixels are replaced by `fill` (0.0 is
black, because the models here take pixels in [0, 1] and normalise inside).

All N*P*P occluded copies are built on the fly and pushed through the model in chunks of `chunk`
images under torch.no_grad(), so memory stays bounded for any N. The chunking is the only loop;
`occluded_batch` builds one chunk and is shared with the tests and any faster path, which can be
checked against `occlude` itself.

Any model works; the Problem 1 `CNN` runs as a `FoldedCNN`, the same network rewritten for
inference (batch norm folded into the convolutions, ReLU after the max-pool, activations in
oneDNN's blocked layout): the same numbers to float rounding (about 1e-6), about 3x faster than the
CNN itself. bench/bench_occlusion.py measures each step, and the ideas that did not pay.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.cli import UserError
from common.cnn import CNN

# Images per forward. For the FoldedCNN on 2 cores, chunks of 64 to 640 run within about 10%
# of each other (bench/bench_occlusion.py). From about 650 up, a chunk's conv1 output
# (16 x 28 x 28 floats per image) passes 32 MB, above which glibc's malloc always maps fresh
# pages from the OS: 6,000 page faults per map at 1024, and half the speed.
DEFAULT_CHUNK = 128


def check_window(patch: int, stride: int, size: int = 28) -> None:
    """Raise UserError unless 1 <= patch <= size and 1 <= stride <= patch (after captum's checks)."""
    for name, value in (("patch", patch), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{name} must be an integer number of pixels, got {value!r}")
    if not 1 <= patch <= size:
        raise UserError(f"patch must be between 1 and {size} pixels (the image size), got {patch}")
    if not 1 <= stride <= patch:
        raise UserError(f"stride must be between 1 and the patch size ({patch}), got {stride}; "
                        "a larger stride would skip pixels that no patch ever covers")


def num_positions(size: int, patch: int, stride: int) -> int:
    """Patch positions along one axis: top-left corners 0, stride, ... up to size - patch."""
    return (size - patch) // stride + 1


def occlusion_masks(height: int, width: int, patch: int, stride: int) -> torch.Tensor:
    """Boolean masks [P*Q, H, W], True inside the patch; row-major over (r, c) top-left positions."""
    rows = torch.arange(num_positions(height, patch, stride)) * stride  # [P] top rows
    cols = torch.arange(num_positions(width, patch, stride)) * stride  # [Q] left columns
    ys, xs = torch.arange(height), torch.arange(width)
    in_rows = (ys[None, :] >= rows[:, None]) & (ys[None, :] < rows[:, None] + patch)  # [P, H]
    in_cols = (xs[None, :] >= cols[:, None]) & (xs[None, :] < cols[:, None] + patch)  # [Q, W]
    masks = in_rows[:, None, :, None] & in_cols[None, :, None, :]  # [P, Q, H, W]
    return masks.reshape(-1, height, width)


def occluded_batch(images: torch.Tensor, masks: torch.Tensor, flat: torch.Tensor,
                   fill: float) -> torch.Tensor:
    """Occluded copies [B, C, H, W] for flat indices `flat` [B] into (image n, position k) pairs.

    images [N, C, H, W], masks [K, H, W]; flat index j means image j // K with mask j % K.
    """
    k = masks.shape[0]
    n, pos = flat // k, flat % k
    fill_value = torch.tensor(fill, dtype=images.dtype)
    return torch.where(masks[pos][:, None], fill_value, images[n])


# ----------------------------------------------------------------------------- the fast CNN
def fold_batch_norm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv with bias equal to bn(conv(x)) in eval mode.

    Per output channel o, bn(y) = g * (y - mu) / sqrt(var + eps) + beta = s * y + (beta - s * mu)
    with s = g / sqrt(var + eps); and s * conv(x) is the conv with weights s * w. So
    w' = s * w, b' = beta + s * (b - mu) (b = 0 when the conv has no bias).
    """
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                       padding=conv.padding, bias=True).to(conv.weight.dtype)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * s[:, None, None, None])
        folded.bias.copy_(bn.bias + s * (bias - bn.running_mean))
    return folded.eval().requires_grad_(False)


class FoldedCNN(nn.Module):
    """The eval-mode `CNN` rewritten for inference: same outputs, fewer passes over memory.

    Each block conv -> batch norm -> ReLU -> 2x2 max-pool becomes conv' -> max-pool -> ReLU:
    - batch norm is folded into conv' (`fold_batch_norm`), so there is no separate pass for it;
    - max(relu(a), relu(b)) = relu(max(a, b)) because ReLU never decreases, so the ReLU can run
      after the pool, on a quarter of the values.
    In float32 the activations travel between the blocks in oneDNN's blocked layout (`to_mkldnn`:
    channels in groups of 8 or 16 next to each other), in which the CPU convolution and pooling
    kernels run fastest; other dtypes (or a torch built without oneDNN) use channels_last.
    """

    def __init__(self, model: CNN) -> None:
        super().__init__()
        self.register_buffer("mean", model.mean.detach().clone())
        self.register_buffer("std", model.std.detach().clone())
        self.convs = nn.ModuleList([fold_batch_norm(model.conv1, model.bn1),
                                    fold_batch_norm(model.conv2, model.bn2),
                                    fold_batch_norm(model.conv3, model.bn3)])
        self.fc = copy.deepcopy(model.fc)
        self.to(memory_format=torch.channels_last).eval().requires_grad_(False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def block(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Block i (0, 1, 2): conv (batch norm folded in) -> 2x2 max-pool -> ReLU."""
        conv = self.convs[i]
        return F.relu(F.max_pool2d(F.conv2d(x, conv.weight, conv.bias, padding=1), 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        blocked = x.dtype == torch.float32 and torch.backends.mkldnn.is_available()
        x = x.to_mkldnn() if blocked else x.contiguous(memory_format=torch.channels_last)
        x = self.block(2, self.block(1, self.block(0, x)))
        return self.fc((x.to_dense() if blocked else x).flatten(1))


def fast_inference_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` for fast inference on CPU with the same outputs (to float rounding).

    The `CNN` becomes a `FoldedCNN` (about 3x the CNN's speed on batches of 64-256, measured by
    bench/bench_occlusion.py); any other model a channels_last copy (about 2x faster convs). A
    copy, so the caller's model keeps its parameters and memory format. Inference only.
    """
    if isinstance(model, CNN):
        return FoldedCNN(model)
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


# ----------------------------------------------------------------------------- the engine
def occlude(model: nn.Module, images: torch.Tensor, patch: int = 8, stride: int = 1,
            fill: float = 0.0, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Softmax outputs for every patch position.

    images: one image [C, H, W] or a batch [N, C, H, W], pixels in the model's input scale.
    Returns [P, Q, K] for one image or [N, P, Q, K] for a batch, K = number of classes, with
    P = (H - patch) // stride + 1 and Q likewise; cell (r, c) has its top-left at (r*stride, c*stride).
    The model runs as `fast_inference_copy(model)`: for a `CNN` that is a `FoldedCNN` built from
    its weights, so the CNN's own forward and any hooks on it are not called.
    """
    if images.dim() not in (3, 4):
        raise UserError(f"images must be [C, H, W] or [N, C, H, W], got shape {tuple(images.shape)}")
    single = images.dim() == 3
    batch = images[None] if single else images
    n, _, height, width = batch.shape
    check_window(patch, stride, min(height, width))
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise UserError(f"chunk must be a positive integer, got {chunk!r}")
    if not math.isfinite(fill):
        raise UserError(f"fill must be a finite pixel value, got {fill!r}")
    if model.training:
        raise UserError("the model is in training mode; call model.eval() first "
                        "(batch norm would mix statistics across the occluded copies)")
    masks = occlusion_masks(height, width, patch, stride)
    p, q = num_positions(height, patch, stride), num_positions(width, patch, stride)
    total = n * p * q
    fast = fast_inference_copy(model)
    outputs = []
    with torch.no_grad():
        for start in range(0, total, chunk):
            flat = torch.arange(start, min(start + chunk, total))
            x = occluded_batch(batch, masks, flat, fill).contiguous(memory_format=torch.channels_last)
            outputs.append(F.softmax(fast(x), dim=1))
    probs = torch.cat(outputs).reshape(n, p, q, -1)
    return probs[0] if single else probs
