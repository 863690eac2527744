"""Benchmark 1: full occlusion maps, our engine (common.occlusion.occlude) against Captum's Occlusion.

The trained Problem 1 CNN (the offline source's checkpoint), 100 test digits (every 10th of the
official test set's first 1,000), an 8x8 black patch at stride 1: a 21 x 21 map per digit, i.e. 441 occluded forwards
(+1 clean). "One image" below is one such full map. Compared, interleaved, 2 torch threads:
- ours: `occlude(model, images)` (the default chunk of 128);
- Captum's `Occlusion` on softmax(model(x)), target = the digit's label, at perturbations_per_eval
  (ppe) 1, 64 and 441. Captum evaluates ppe perturbations of every digit of a call in one forward,
  so its forward batch is digits per call x ppe: ppe=1 is timed with all 100 digits in one call
  (batch 100) and with one digit per call (batch 1: 441 forwards per digit, so on 5 digits),
  ppe=64 and ppe=441 with one digit per call (batches of 64 and 441). Rates are per digit;
  Captum's best of the four is the yardstick;
- a naive loop, one forward of the plain model per patch position, on 5 digits.
Before any timing, ours must agree: the maps equal the naive loop's to 1e-5 (absolute, every
class), and the attribution derived from our map (Captum's definition: at each pixel, the mean over
the windows covering it of p(target | clean) - p(target | occluded)) equals Captum's at every ppe
to 1e-5.

Work rate: the model's FLOPs per forward are counted with torch.utils.flop_counter (one image:
3.85 MFLOP, 2 FLOPs per multiply-add); a map is 441 forwards, so GFLOP/s = 441 x FLOPs per forward
x maps per second, whatever an engine actually performs (ours performs 60% of that: FlopCounter
around `occlude` itself). It is compared with a 2048 x 2048 float32 torch.mm timed in the same
interleaved rounds, and with oneDNN's own 2048 x 2048 matmul (torch.mm runs MKL, which on this AMD
CPU uses AVX2 kernels at half the AVX-512 rate that oneDNN reaches).

Also timed, on 20 digits: the steps from the CNN as it is to the engine (channels_last, batch norm
folded, ReLU after the pool, oneDNN's blocked layout: the full-forward FoldedCNN; then recomputing
only the windows that the patch changes: IncrementalCNN, the engine), one idea that was measured
and not adopted (torch.inference_mode), and the engine's step sizes with their minor page faults.

The instruction set is the one torch and oneDNN run with (machine_info records it). To measure the
AVX2 kernels on an AVX-512 CPU, restrict both:
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 .venv/bin/python -m bench --only occlusion
(ONEDNN_VERBOSE=1 then prints "isa:Intel AVX2" and brg_conv_fwd:avx2 kernels.)

    .venv/bin/python -m bench --only occlusion   (2 minutes on 2 quiet CPU cores; --quick: 7 s)
"""
from __future__ import annotations

import copy
import resource
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.attr import Occlusion
from torch.utils.flop_counter import FlopCounterMode

from bench.common import Stat, goal, interleaved, result, row
from common.cnn import CNN, load_cnn
from common.data import OFFLINE, load_mnist
from common.occlusion import (
    DEFAULT_CHUNK,
    INCREMENTAL_CHUNK,
    FoldedCNN,
    full_flops,
    num_positions,
    occlude,
    occluded_batch,
    occlusion_masks,
    plan_blocks,
    plan_flops,
)

PATCH, STRIDE, FILL = 8, 1, 0.0
SIZE = 28
TOLERANCE = 1e-5
GOAL_SPEEDUP, GOAL_SHARE = 3.0, 0.5
MM_N = 2048
# Captum's configurations: name -> (perturbations_per_eval, digits per call; None: all of them).
CAPTUM = {"ppe=1, all digits in one call": (1, None), "ppe=1, one digit per call": (1, 1),
          "ppe=64, one digit per call": (64, 1), "ppe=441, one digit per call": (441, 1)}
SLOW = "ppe=1, one digit per call"  # 441 forwards of one image per digit: timed on fewer digits
CHUNKS = (64, 128, 256, 441, 882)
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


def naive_maps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """One forward of the plain model per patch position: probabilities [N, P, P, K]."""
    maps = []
    with torch.no_grad():
        for image in images:
            rows = []
            for top in range(0, SIZE - PATCH + 1, STRIDE):
                cells = []
                for left in range(0, SIZE - PATCH + 1, STRIDE):
                    x = image.clone()
                    x[:, top:top + PATCH, left:left + PATCH] = FILL
                    cells.append(F.softmax(model(x[None]), dim=1)[0])
                rows.append(torch.stack(cells))
            maps.append(torch.stack(rows))
    return torch.stack(maps)


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


# ----------------------------------------------------------------------------- the benchmark
def run(quick: bool = False) -> dict[str, Any]:
    torch.set_num_threads(2)
    if quick:  # a seeded untrained CNN: the agreement checks hold for any weights, and the smoke
        torch.manual_seed(0)  # test then neither trains nor writes checkpoints/
        model = CNN().eval()
    else:
        model, _ = load_cnn(OFFLINE, progress=False)
    test = load_mnist("test", OFFLINE)
    n_main, n_small, n_steps = (2, 1, 2) if quick else (100, 5, 20)
    images, targets = test.images[::10][:n_main], test.labels[::10][:n_main]
    repeats = 3 if quick else 5
    p = num_positions(SIZE, PATCH, STRIDE)

    # Agreement first: ours against the naive loop, and against Captum at every ppe.
    ours = occlude(model, images, patch=PATCH, stride=STRIDE, fill=FILL)
    naive_err = (ours[:n_small] - naive_maps(model, images[:n_small])).abs().max().item()
    with torch.no_grad():
        clean = F.softmax(model(images), dim=1)
    derived = attribution_from_map(ours, clean, targets)
    ndig = {name: n_small if name == SLOW else n_main for name in CAPTUM}  # digits timed
    captum_err = {name: (captum_maps(model, images[:ndig[name]], targets[:ndig[name]], ppe, per_call)
                         - derived[:ndig[name]]).abs().max().item()
                  for name, (ppe, per_call) in CAPTUM.items()}
    agree = naive_err <= TOLERANCE and all(e <= TOLERANCE for e in captum_err.values())
    agreement = (f"maps equal to the naive loop's to {naive_err:.1e} ({n_small} digits, all 10 "
                 "classes); the attribution derived from them equals Captum's to "
                 + ", ".join(f"{e:.1e} ({k})" for k, e in captum_err.items())
                 + f"; tolerance {TOLERANCE:g}")
    title = "Occlusion maps: our engine vs Captum"
    who = {"ours": "common.occlusion.occlude (IncrementalCNN)",
           "peer": "captum.attr.Occlusion at ppe 1, 64, 441; a naive per-position loop"}
    if not agree:
        return result("occlusion", title, quick, **who, agree=False,
                      agreement=agreement + ": NOT timed", rows=[],
                      goals=[goal(f"maps equal to {TOLERANCE:g}", False, agreement)])

    fns: dict[str, Callable[[], object]] = {"ours": lambda: occlude(model, images)}
    for name, (ppe, per_call) in CAPTUM.items():
        k = ndig[name]
        fns[name] = lambda k=k, ppe=ppe, per_call=per_call: captum_maps(model, images[:k], targets[:k],
                                                                        ppe, per_call)
    fns["naive loop"] = lambda: naive_maps(model, images[:n_small])
    fns["torch.mm"] = matmul()
    onednn = onednn_matmul()
    if onednn is not None:
        fns["oneDNN matmul"] = onednn
    digits = {"ours": n_main, "naive loop": n_small, **ndig}
    timed = interleaved(fns, repeats=repeats, min_seconds=0.0)
    maps_per_s = {name: rate(timed[name], k) for name, k in digits.items()}
    faults = {name: page_faults(fns[name]) / k for name, k in digits.items() if name != "naive loop"}

    flops = forward_flops(model, images[:1])
    useful = p * p * flops  # per map
    net = FoldedCNN(model)
    incremental, full = plan_flops(plan_blocks(SIZE, SIZE, PATCH, STRIDE), net), full_flops(SIZE, SIZE, net)
    performed = forward_flops(lambda x: occlude(model, x), images[:1])
    mm = rate(timed["torch.mm"], 2 * MM_N ** 3 / 1e9)
    gflops = rate(timed["ours"], n_main * useful / 1e9)
    share = gflops["median"] / mm["median"]
    best_name = max(CAPTUM, key=lambda name: maps_per_s[name]["median"])
    best = maps_per_s[best_name]
    speedup = maps_per_s["ours"]["median"] / best["median"]

    rows = []
    for name in CAPTUM:
        peer = maps_per_s[name]
        ppe, per_call = CAPTUM[name]
        batch = f"forward batch {(per_call or n_main) * ppe}"
        rows.append(row(f"maps/s vs Captum, {name}" + (" (its best)" if name == best_name else ""),
                        maps_per_s["ours"], peer, ratio_=maps_per_s["ours"]["median"] / peer["median"],
                        unit=" maps/s", target=f">= {GOAL_SPEEDUP:g}x" if name == best_name else None,
                        note=batch + (f"; timed on {ndig[name]} digits" if name == SLOW else "")))
    rows.append(row("maps/s vs naive per-position loop", maps_per_s["ours"], maps_per_s["naive loop"],
                    ratio_=maps_per_s["ours"]["median"] / maps_per_s["naive loop"]["median"],
                    unit=" maps/s", note=f"naive loop timed on {n_small} digits"))
    rows.append(row(f"GFLOP/s (441 forwards per map) vs torch.mm {MM_N}²", gflops, mm, ratio_=share,
                    unit=" GFLOP/s", target=f">= {GOAL_SHARE:.0%} of mm"))
    if onednn is not None:
        mm_dnn = rate(timed["oneDNN matmul"], 2 * MM_N ** 3 / 1e9)
        rows.append(row(f"GFLOP/s vs oneDNN's {MM_N}² matmul (the convolutions' library)", gflops,
                        mm_dnn, ratio_=gflops["median"] / mm_dnn["median"], unit=" GFLOP/s"))

    detail: dict[str, Any] = {"timed": timed, "maps_per_second": maps_per_s,
                              "page_faults_per_map": faults, "flops_per_forward": flops,
                              "flops_per_map": useful, "flops_per_map_performed_by_ours": performed,
                              "captum_max_abs_error": captum_err, "naive_max_abs_error": naive_err}
    notes = [f"Maps per second: median (min–max) over {repeats} interleaved rounds; everything on "
             f"the same {n_main} digits except Captum {SLOW} and the naive loop ({n_small} digits). "
             "Left out: Captum at ppe=64 and ppe=441 with all digits in one call, whose forward "
             f"batches are digits x ppe ({64 * n_main:,} and {441 * n_main:,} here): on 100 digits "
             "they page-fault through gigabytes of activations and were slower than one digit per "
             "call (14 and 11 maps/s in an earlier run).",
             f"FLOPs per forward {flops:,} (FlopCounterMode, one image); a map is {p * p} forwards = "
             f"{useful / 1e9:.3f} GFLOP, the work that the GFLOP/s rows credit to every engine. "
             f"FlopCounter around our `occlude` of one digit: {performed / 1e9:.3f} GFLOP "
             f"({performed / useful:.0%} of it, the clean activations included): the incremental "
             f"engine recomputes only the windows that the patch changes ({incremental / 1e6:.2f} "
             f"MFLOP per occluded copy against {full / 1e6:.2f}), so its GFLOP/s can pass the "
             "machine's arithmetic rate.",
             "Minor page faults per map (one more, untimed call each): " + ", ".join(
                 f"{k} {v:,.0f}" for k, v in faults.items()) + "."]
    if max(faults.values()) > 1000:
        notes.append("Page faults: the allocator returned large freed blocks to the OS and asked "
                     "for fresh pages again, at a cost that depends on what ran before.")
    if onednn is not None:
        notes.append("torch.mm goes through MKL, which on this AMD CPU runs its AVX2 kernels whatever "
                     "the instruction set torch and oneDNN are given; the convolutions go through "
                     "oneDNN, at the instruction set named in the heading. oneDNN's own matmul is "
                     "the ceiling of the convolutions' library.")
    if not quick:
        steps_fns = steps(model, images[:n_steps])
        ref = steps_fns["the CNN as it is (NCHW)"]()
        step_err = {k: (f() - ref).abs().max().item() for k, f in steps_fns.items()}
        steps_t = interleaved(steps_fns, repeats=repeats, min_seconds=0.0)
        step_rates = {k: rate(v, n_steps) for k, v in steps_t.items()}
        chunk_fns = {str(c): lambda c=c: occlude(model, images[:n_steps], chunk=c) for c in CHUNKS}
        chunk_t = interleaved(chunk_fns, repeats=repeats, min_seconds=0.0)
        chunk_faults = {c: page_faults(f) / n_steps for c, f in chunk_fns.items()}
        detail.update({"steps_maps_per_second": step_rates, "steps_max_abs_error": step_err,
                       "chunks_maps_per_second": {c: rate(s, n_steps) for c, s in chunk_t.items()},
                       "chunks_page_faults_per_map": chunk_faults})
        base = step_rates["the CNN as it is (NCHW)"]["median"]
        for k, v in step_rates.items():
            rows.append(row(f"step: {k.strip()}", v, step_rates["the CNN as it is (NCHW)"],
                            ratio_=v["median"] / base, unit=" maps/s",
                            note=f"{n_steps} digits; peer = the CNN as it is"))
        worst = max(step_err.values())
        agree = agree and worst <= TOLERANCE
        agreement += f"; every step's maps equal the CNN's to {worst:.1e}"
        notes.append("Chunk sizes (maps/s, minor page faults per map): " + "; ".join(
            f"{c}: {rate(chunk_t[c], n_steps)['median']:.0f}, {chunk_faults[c]:,.0f}" for c in chunk_t)
            + f". The engine's default is {INCREMENTAL_CHUNK}.")
    goals = [goal(f"at least {GOAL_SPEEDUP:g}x Captum's best (ppe 1, 64, 441)", speedup >= GOAL_SPEEDUP,
                  f"{speedup:.2f}x (ours {maps_per_s['ours']['median']:.1f} maps/s, Captum "
                  f"{best_name} {best['median']:.1f})"),
             goal(f"at least {GOAL_SHARE:.0%} of the {MM_N}² float32 torch.mm rate",
                  share >= GOAL_SHARE,
                  f"{share:.0%} ({gflops['median']:.0f} of {mm['median']:.0f} GFLOP/s)"),
             goal(f"maps equal to {TOLERANCE:g}", agree,
                  f"{max(naive_err, *captum_err.values()):.1e} at most")]
    return result("occlusion", title, quick, **who, agree=agree, agreement=agreement, rows=rows,
                  goals=goals, notes=notes,
                  config={"patch": PATCH, "stride": STRIDE, "fill": FILL, "digits": n_main,
                          "digits_small": n_small, "digits_steps": n_steps, "chunk": INCREMENTAL_CHUNK,
                          "repeats": repeats, "torch_threads": torch.get_num_threads(),
                          "data": f"{OFFLINE} test, every 10th digit", "mm": f"{MM_N}x{MM_N} float32",
                          "model": f"checkpoints/cnn-{OFFLINE}.pt"},
                  detail=detail)
