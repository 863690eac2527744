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
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common.cli import UserError

DEFAULT_CHUNK = 128  # images per forward; 64-256 is the fast range for the P1 CNN on CPU


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


def fast_inference_copy(model: nn.Module) -> nn.Module:
    """A channels_last copy of `model` for inference (about 3x faster convs on CPU); same outputs.

    A copy, so the caller's model keeps its memory format.
    """
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def occlude(model: nn.Module, images: torch.Tensor, patch: int = 8, stride: int = 1,
            fill: float = 0.0, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Softmax outputs for every patch position.

    images: one image [C, H, W] or a batch [N, C, H, W], pixels in the model's input scale.
    Returns [P, Q, K] for one image or [N, P, Q, K] for a batch, K = number of classes, with
    P = (H - patch) // stride + 1 and Q likewise; cell (r, c) has its top-left at (r*stride, c*stride).
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
