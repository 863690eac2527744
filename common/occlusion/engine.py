"""Occlusion sensitivity: the model's softmax output for every position of a square patch.

    probs = occlude(model, image, patch=8, stride=1, fill=0.0)   # image [1, 28, 28] -> [P, P, 10]
    probs = occlude(model, images)                                # images [N, 1, 28, 28] -> [N, P, P, 10]

Map cell (r, c) is the patch whose TOP-LEFT corner sits at pixel (row r*stride, column c*stride);
its centre is at (r*stride + (patch-1)/2, c*stride + (patch-1)/2). P = (28 - patch) // stride + 1,
so an 8x8 patch with stride 1 gives a 21 x 21 map. The patch pixels are replaced by `fill` (0.0 is
black, because the models here take pixels in [0, 1] and normalise inside).

All N*P*P occluded copies are built on the fly and pushed through the model in chunks of `chunk`
copies under torch.no_grad(), so memory stays bounded for any N. The chunking is the only loop;
`occluded_batch` builds one chunk of whole copies and is shared with the tests.

Any model works. The Problem 1 `CNN` runs from its weights, by one of two engines:
- `IncrementalCNN` (the default for it): an occluded copy differs from the clean image only inside
  the patch, so each block recomputes only the window of its output that the patch can reach, from
  the clean image's activations elsewhere: 60% of the model's FLOPs for an 8x8 patch on 28x28;
- `FoldedCNN`, the full forward rewritten for inference (batch norm folded into the convolutions,
  ReLU after the max-pool, activations in oneDNN's blocked layout), for windows where the
  incremental engine would save little (`incremental_pays`).
Both give the plain CNN's numbers to float rounding (about 1e-6 in float32). bench/bench_occlusion.py
measures each step on AVX2 and AVX-512, and the ideas that did not pay.
"""
from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common.core.cli import UserError
from common.nets.cnn import CNN

# Images per forward. For the FoldedCNN on 2 cores, chunks of 64 to 640 run within about 10%
# of each other (bench/bench_occlusion.py). From about 650 up, a chunk's conv1 output
# (16 x 28 x 28 floats per image) passes 32 MB, above which glibc's malloc always maps fresh
# pages from the OS: 6,000 page faults per map at 1024, and half the speed.
DEFAULT_CHUNK = 128
# Occluded copies per step of the incremental engine: 128 to 256 ran best on AVX2 and AVX-512
# (bench/bench_occlusion.py); 441 and more leave the crops of a step out of the L2 cache.
INCREMENTAL_CHUNK = 256
# The incremental engine runs when it performs at most this share of the model's FLOPs (8x8 patch
# on 28x28: 60%); with larger patches the crops grow to the whole map and the full forward wins.
INCREMENTAL_MAX_SHARE = 0.8


class Window(NamedTuple):
    """A square occluding patch: `patch` pixels a side, moved `stride` pixels at a time, its pixels
    set to `fill` (0.0 is black). Built by `check_window`, which validates it."""
    patch: int
    stride: int
    fill: float = 0.0


def check_window(patch: int, stride: int, fill: float = 0.0, size: int = 28) -> Window:
    """The Window, or UserError unless 1 <= patch <= size, 1 <= stride <= patch and fill is finite
    (after captum's checks)."""
    for name, value in (("patch", patch), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{name} must be an integer number of pixels, got {value!r}")
    if not 1 <= patch <= size:
        raise UserError(f"patch must be between 1 and {size} pixels (the image size), got {patch}")
    if not 1 <= stride <= patch:
        raise UserError(f"stride must be between 1 and the patch size ({patch}), got {stride}; "
                        "a larger stride would skip pixels that no patch ever covers")
    if not math.isfinite(fill):
        raise UserError(f"fill must be a finite pixel value, got {fill!r}")
    return Window(patch, stride, float(fill))


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


# ----------------------------------------------------------------------------- incremental
class BlockPlan(NamedTuple):
    """How block i of `IncrementalCNN` reads its input for each patch position k.

    Per position, block i recomputes only a window of its output. That window reads a crop of the
    block's zero-padded input; inside the crop, the pixels of the input's changed window (the
    patch for block 0, block i-1's recomputed window after that) come from the occluded copy,
    all others from the clean image's activations.
    """

    inside: torch.Tensor  # bool [K, Hc * Wc]: the crop pixel lies in the input's changed window
    changed: torch.Tensor  # int64 [K, Hc * Wc]: its pixel index in that window, row-major
    clean: torch.Tensor  # int64 [K, Hc * Wc]: its pixel index in the clean padded input, row-major
    crop: tuple[int, int]  # Hc, Wc
    window_pixels: int  # pixels of the input's changed window (0 for block 0: one fill value)
    padded_pixels: int  # pixels of the clean padded input, (H_i + 2) * (W_i + 2)


def changed_windows(starts: torch.Tensor, extent: int, size: int, blocks: int
                    ) -> list[tuple[torch.Tensor, int]]:
    """Along one axis: (window starts [P], width) of what can change, at the input and after each block.

    A block is a 3x3 conv with padding 1 and a 2x2 max-pool. If its input changes only in rows
    [s, s + w), its conv changes in rows s - 1 ... s + w, hence pooled rows floor((s - 1) / 2) ...
    floor((s + w) / 2), clipped to the size // 2 pooled rows. One width serves all positions (the
    largest); a start is moved down where the window would overhang the end. The last block's
    window is its whole output, which the classifier reads.
    """
    out = [(starts, extent)]
    for i in range(blocks):
        half = size // 2
        if i == blocks - 1:
            starts, extent = torch.zeros_like(starts), half
        else:
            lo = torch.div(starts - 1, 2, rounding_mode="floor").clamp(min=0)
            hi = torch.div(starts + extent, 2, rounding_mode="floor").clamp(max=half - 1)
            extent = min(int((hi - lo).max()) + 1, half)
            starts = lo.clamp(max=half - extent)
        out.append((starts, extent))
        size = half
    return out


def crop_axis(windows: list[tuple[torch.Tensor, int]], i: int
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Along one axis, for block i: the crop's padded rows [P, 2w + 2], their row in the input's
    changed window, and whether they lie in it. Pooled rows [s, s + w) read conv rows [2s, 2s + 2w),
    which read padded input rows 2s ... 2s + 2w + 1."""
    (prev, width), (starts, w) = windows[i], windows[i + 1]
    rows = 2 * starts[:, None] + torch.arange(2 * w + 2)
    local = rows - 1 - prev[:, None]  # padded row j is input row j - 1
    return rows, local, (local >= 0) & (local < width)


def plan_blocks(height: int, width: int, patch: int, stride: int, blocks: int = 3) -> list[BlockPlan]:
    """The crops of each block for every patch position (row-major over top-left corners)."""
    per_axis = [changed_windows(torch.arange(num_positions(size, patch, stride)) * stride, patch,
                                size, blocks) for size in (height, width)]
    plans = []
    for i in range(blocks):
        (rr, lr, ir), (cc, lc, ic) = crop_axis(per_axis[0], i), crop_axis(per_axis[1], i)
        wr, wc = per_axis[0][i][1], per_axis[1][i][1]
        inside = ir[:, None, :, None] & ic[None, :, None, :]  # [P, Q, Hc, Wc]
        changed = lr.clamp(0, wr - 1)[:, None, :, None] * wc + lc.clamp(0, wc - 1)[None, :, None, :]
        clean = rr[:, None, :, None] * (width + 2) + cc[None, :, None, :]
        if i == 0:
            changed = torch.zeros_like(changed)
        k = inside.shape[0] * inside.shape[1]
        plans.append(BlockPlan(inside.reshape(k, -1), changed.reshape(k, -1), clean.reshape(k, -1),
                               (rr.shape[1], cc.shape[1]), 0 if i == 0 else wr * wc,
                               (height + 2) * (width + 2)))
        height, width = height // 2, width // 2
    return plans


def plan_flops(plans: list[BlockPlan], net: FoldedCNN) -> int:
    """FLOPs per occluded copy of the incremental engine (2 per multiply-add; convs and classifier)."""
    total = 2 * net.fc.in_features * net.fc.out_features
    for plan, conv in zip(plans, net.convs):
        h, w = plan.crop[0] - 2, plan.crop[1] - 2
        total += 2 * h * w * conv.weight.numel()
    return total


def full_flops(height: int, width: int, net: FoldedCNN) -> int:
    """FLOPs of one full forward of the FoldedCNN (convs and classifier)."""
    total = 2 * net.fc.in_features * net.fc.out_features
    for conv in net.convs:
        total += 2 * height * width * conv.weight.numel()
        height, width = height // 2, width // 2
    return total


def incremental_pays(net: FoldedCNN, height: int, width: int, patch: int, stride: int) -> bool:
    """Whether the incremental engine performs at most INCREMENTAL_MAX_SHARE of the model's FLOPs.

    On both instruction sets measured (AVX2 and AVX-512, bench/bench_occlusion.py) it was the
    faster engine whenever it saved that much arithmetic, so the choice is by FLOPs, not by CPU.
    """
    plans = plan_blocks(height, width, patch, stride, len(net.convs))
    return plan_flops(plans, net) <= INCREMENTAL_MAX_SHARE * full_flops(height, width, net)


class IncrementalCNN:
    """Logits of occluded copies of `images` from each image's clean activations.

    An occluded copy differs from its clean image only inside the patch, so block 0's output
    differs only in a window around it, block 1's in a window around that, and the last block's
    (3x3 after its pool) anywhere (`changed_windows`). Each block's clean zero-padded input is
    computed once per image. For a step of copies, block i gathers each copy's crop (`BlockPlan`)
    in one F.embedding call from a table holding the clean inputs' pixels, then the changed
    windows' pixels (the fill value for block 0), and runs conv (no padding: the crop holds the
    padding) -> 2x2 max-pool -> ReLU on the crops. For the 8x8 patch on 28x28 this performs 60% of
    the model's FLOPs; the conv over the crops rounds differently from the full conv (about 1e-6
    in float32).
    """

    def __init__(self, net: FoldedCNN, images: torch.Tensor, patch: int, stride: int, fill: float
                 ) -> None:
        _, _, height, width = images.shape
        self.net = net
        self.plans = plan_blocks(height, width, patch, stride, len(net.convs))
        self.positions = self.plans[0].inside.shape[0]
        x = net.normalize(images)
        self.fill = net.normalize(torch.tensor(fill, dtype=images.dtype)).reshape(1, 1)
        self.clean = []  # per block: the clean padded inputs as a pixel table [N * (H+2)(W+2), C]
        for i in range(len(net.convs)):
            self.clean.append(F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1).reshape(-1, x.shape[1]))
            if i + 1 < len(net.convs):
                x = net.block(i, x.contiguous(memory_format=torch.channels_last))

    def __call__(self, flat: torch.Tensor) -> torch.Tensor:
        """Logits [B, K] for flat indices [B] into (image n, position k) pairs: n = j // K, k = j % K."""
        n, pos = flat // self.positions, flat % self.positions
        first, last = int(n.min()), int(n.max())
        n = n - first
        copy_of = torch.arange(len(flat))[:, None]
        x = None
        for i, (plan, conv) in enumerate(zip(self.plans, self.net.convs)):
            # Table rows: first the changed windows (copy b's at b * window_pixels), then the clean
            # padded inputs of the step's images (image first + n's at n * padded_pixels).
            changed = self.fill if x is None else x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
            clean = self.clean[i][first * plan.padded_pixels:(last + 1) * plan.padded_pixels]
            table = torch.cat([changed, clean])
            rows = torch.where(plan.inside[pos], copy_of * plan.window_pixels + plan.changed[pos],
                               len(changed) + (n * plan.padded_pixels)[:, None] + plan.clean[pos])
            crops = F.embedding(rows, table).reshape(len(flat), *plan.crop, -1).permute(0, 3, 1, 2)
            x = F.relu(F.max_pool2d(F.conv2d(crops, conv.weight, conv.bias), 2))
        return self.net.fc(x.flatten(1))


# ----------------------------------------------------------------------------- the engine
def occlude(model: nn.Module, images: torch.Tensor, patch: int = 8, stride: int = 1,
            fill: float = 0.0, chunk: int | None = None) -> torch.Tensor:
    """Softmax outputs for every patch position.

    images: one image [C, H, W] or a batch [N, C, H, W], pixels in the model's input scale.
    Returns [P, Q, K] for one image or [N, P, Q, K] for a batch, K = number of classes, with
    P = (H - patch) // stride + 1 and Q likewise; cell (r, c) has its top-left at (r*stride, c*stride).
    chunk: occluded copies per step (None: INCREMENTAL_CHUNK for the incremental engine,
    DEFAULT_CHUNK otherwise). A `CNN` runs from its weights, as an `IncrementalCNN` when that
    performs at most INCREMENTAL_MAX_SHARE of the model's FLOPs and as a `FoldedCNN` otherwise,
    so its own forward and any hooks on it are not called. Any other model runs as a
    channels_last copy (`fast_inference_copy`).
    """
    if images.dim() not in (3, 4):
        raise UserError(f"images must be [C, H, W] or [N, C, H, W], got shape {tuple(images.shape)}")
    single = images.dim() == 3
    batch = images[None] if single else images
    n, _, height, width = batch.shape
    check_window(patch, stride, fill, min(height, width))
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise UserError(f"chunk must be a positive integer, got {chunk!r}")
    if model.training:
        raise UserError("the model is in training mode; call model.eval() first "
                        "(batch norm would mix statistics across the occluded copies)")
    p, q = num_positions(height, patch, stride), num_positions(width, patch, stride)
    total = n * p * q
    fast = fast_inference_copy(model)
    with torch.no_grad():
        if isinstance(fast, FoldedCNN) and incremental_pays(fast, height, width, patch, stride):
            logits_of, chunk = IncrementalCNN(fast, batch, patch, stride, fill), chunk or INCREMENTAL_CHUNK
        else:
            masks = occlusion_masks(height, width, patch, stride)
            chunk = chunk or DEFAULT_CHUNK

            def logits_of(flat: torch.Tensor) -> torch.Tensor:
                x = occluded_batch(batch, masks, flat, fill)
                return fast(x.contiguous(memory_format=torch.channels_last))

        outputs = [F.softmax(logits_of(torch.arange(start, min(start + chunk, total))), dim=1)
                   for start in range(0, total, chunk)]
    probs = torch.cat(outputs).reshape(n, p, q, -1)
    return probs[0] if single else probs


def occlusion_maps(model: nn.Module, image: torch.Tensor, window: Window, true_class: int
                   ) -> dict[str, np.ndarray]:
    """The three maps [P, P] of one image [1, H, W]: p(true class), the highest probability over all
    classes and the predicted label; and the softmax outputs [P, P, K] they come from ("probs")."""
    probs = occlude(model, image, *window).numpy()
    return {"prob_true": probs[..., true_class], "max_prob": probs.max(-1),
            "label": probs.argmax(-1), "probs": probs}


def cell_mask(window: Window, row: int, col: int, size: int = 28) -> np.ndarray:
    """Boolean [size, size]: the pixels that the patch of map cell (row, col) covers."""
    mask = np.zeros((size, size), dtype=bool)
    top, left = row * window.stride, col * window.stride
    mask[top:top + window.patch, left:left + window.patch] = True
    return mask
