"""The occlusion benchmark's peers and measures: Captum's Occlusion, a naive loop, a batched loop
without the engine's incremental forward, the engine's steps one at a time, FLOP counts, the
torch.mm rate and page faults. bench/bench_occlusion.py times them side by side."""
from __future__ import annotations

import copy
import resource
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import Occlusion
from torch.utils.flop_counter import FlopCounterMode

from bench.common import Stat
from common.nets.cnn import CNN
from common.occlusion.engine import (
    DEFAULT_CHUNK,
    FoldedCNN,
    occlude,
    occluded_batch,
    occlusion_masks,
)

PATCH, STRIDE, FILL = 8, 1, 0.0
SIZE = 28
MM_N = 2048
CL = torch.channels_last


# ----------------------------------------------------------------------------- the peers
def captum_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, ppe: int,
                per_call: int | None = None) -> torch.Tensor:
    """Captum's occlusion attributions [N, 1, H, W] for the target classes, `per_call` digits per
    call of `attribute` (None: all). Captum evaluates ppe perturbations of every digit of a call
    in one forward, so its forward batch is digits per call x ppe."""
    occlusion = Occlusion(lambda x: F.softmax(model(x), dim=1))
    k = per_call or len(images)
    return torch.cat([occlusion.attribute(
        images[i:i + k], sliding_window_shapes=(1, PATCH, PATCH), strides=(1, STRIDE, STRIDE),
        baselines=FILL, target=targets[i:i + k], perturbations_per_eval=ppe)
        for i in range(0, len(images), k)])


def naive_occlude(model: nn.Module, image: torch.Tensor, patch: int = PATCH, stride: int = STRIDE,
                  fill: float = FILL) -> torch.Tensor:
    """One forward of the plain model per patch position, positions listed with range(): [P, Q, K]
    for an image [C, H, W]. The reference that the engine's tests and this benchmark compare with."""
    _, h, w = image.shape
    rows = []
    for top in range(0, h - patch + 1, stride):
        row = []
        for left in range(0, w - patch + 1, stride):
            x = image.clone()
            x[:, top:top + patch, left:left + patch] = fill
            with torch.no_grad():
                row.append(F.softmax(model(x[None]), dim=1)[0])
        rows.append(torch.stack(row))
    return torch.stack(rows)


def naive_maps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """naive_occlude for each image: probabilities [N, P, P, K]."""
    return torch.stack([naive_occlude(model, image) for image in images])


def attribution_from_map(probs: torch.Tensor, clean: torch.Tensor,
                         targets: torch.Tensor) -> torch.Tensor:
    """Captum's attribution [N, 1, H, W] from our map [N, P, P, K] and clean probabilities [N, K]:
    at each pixel the mean, over the patch windows covering it, of p(t | clean) - p(t | occluded).
    F.fold sums each window's value over its PATCH x PATCH pixels; folding ones counts them."""
    n, p = probs.shape[:2]
    occluded = probs[torch.arange(n), :, :, targets].reshape(n, 1, p * p)  # [N, 1, P*P]
    drop = (clean[torch.arange(n), targets][:, None, None] - occluded).double()
    cols = drop.expand(n, PATCH * PATCH, p * p)
    total = F.fold(cols, (SIZE, SIZE), PATCH, stride=STRIDE)
    count = F.fold(torch.ones_like(cols), (SIZE, SIZE), PATCH, stride=STRIDE)
    return (total / count).to(probs.dtype)


# ----------------------------------------------------------------------------- the steps
def batched_maps(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                 chunk: int = DEFAULT_CHUNK, inference_mode: bool = False) -> torch.Tensor:
    """Probabilities [N * P * P, K]: the engine's loop (chunks of occluded copies, channels_last)
    around any `forward`."""
    masks = occlusion_masks(SIZE, SIZE, PATCH, STRIDE)
    total = len(images) * len(masks)
    out = []
    with torch.inference_mode() if inference_mode else torch.no_grad():
        for start in range(0, total, chunk):
            x = occluded_batch(images, masks, torch.arange(start, min(start + chunk, total)), FILL)
            out.append(F.softmax(forward(x.contiguous(memory_format=CL)), dim=1))
    return torch.cat(out)


class ChannelsLastFolded(nn.Module):
    """FoldedCNN's folded weights with channels_last activations, ReLU before or after the pool:
    the steps between the CNN and FoldedCNN."""

    def __init__(self, model: CNN, relu_after_pool: bool) -> None:
        super().__init__()
        self.net, self.relu_after_pool = FoldedCNN(model), relu_after_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.net.normalize(x).contiguous(memory_format=CL)
        for conv in self.net.convs:
            y = F.conv2d(x, conv.weight, conv.bias, padding=1)
            x = F.relu(F.max_pool2d(y, 2)) if self.relu_after_pool else F.max_pool2d(F.relu(y), 2)
        return self.net.fc(x.flatten(1))


def steps(model: CNN, images: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """Full maps for `images` [N * P * P, K], each idea in turn; the engine is the sixth."""
    cl = copy.deepcopy(model).to(memory_format=CL)
    folded = FoldedCNN(model)
    relu_first, relu_last = ChannelsLastFolded(model, False), ChannelsLastFolded(model, True)
    return {
        "the CNN as it is (NCHW)": lambda: batched_maps(model, images),
        "+ channels_last": lambda: batched_maps(cl, images),
        "+ batch norm folded into the convs": lambda: batched_maps(relu_first, images),
        "+ ReLU after the pool": lambda: batched_maps(relu_last, images),
        "+ oneDNN blocked layout (FoldedCNN: the full forward, the engine before)":
            lambda: batched_maps(folded, images),
        "+ only the changed windows (IncrementalCNN: the engine)":
            lambda: occlude(model, images).reshape(-1, 10),
        "  not adopted: FoldedCNN + torch.inference_mode":
            lambda: batched_maps(folded, images, inference_mode=True),
    }


# ----------------------------------------------------------------------------- work and rates
def forward_flops(forward: Callable[[torch.Tensor], object], batch: torch.Tensor) -> int:
    """FLOPs that `forward(batch)` runs (torch.utils.flop_counter: 2 per multiply-add)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        forward(batch)
    return counter.get_total_flops()


def rate(s: Stat, work: float) -> Stat:
    """A time stat (seconds per call) as a rate stat (`work` per second): median, min, max."""
    return {"median": work / s["median"], "min": work / s["max"], "max": work / s["min"],
            "n": s["n"]}


def matmul() -> Callable[[], torch.Tensor]:
    a, b, out = torch.randn(MM_N, MM_N), torch.randn(MM_N, MM_N), torch.empty(MM_N, MM_N)
    return lambda: torch.mm(a, b, out=out)


def onednn_matmul() -> Callable[[], torch.Tensor] | None:
    """The same product through oneDNN (a private torch entry point; None where it is missing)."""
    a, b = torch.randn(MM_N, MM_N).to_mkldnn(), torch.randn(MM_N, MM_N).to_mkldnn()
    linear = getattr(torch._C._nn, "mkldnn_linear", None)
    return None if linear is None else lambda: linear(a, b)


def page_faults(fn: Callable[[], object]) -> int:
    """Minor page faults (fresh pages the allocator asked the OS for) during one call of `fn`."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
