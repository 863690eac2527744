"""Benchmark 1: full occlusion maps, our engine (common.occlusion.engine.occlude) against Captum's Occlusion.

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
interleaved rounds, and with oneDNN's own 2048 x 2048 matmul (torch.mm runs MKL, which on an AMD
CPU uses AVX2 kernels, at half the AVX-512 rate that oneDNN reaches on an AVX-512 one).

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

from typing import Any, Callable, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.common import Stat, goal, interleaved, result, row
from bench.occlusion_peers import (
    FILL,
    MM_N,
    PATCH,
    SIZE,
    STRIDE,
    attribution_from_map,
    captum_maps,
    forward_flops,
    matmul,
    naive_maps,
    onednn_matmul,
    page_faults,
    rate,
    steps,
)
from common.core.machine import cpu_model, vector_extensions
from common.nets.cnn import CNN
from common.nets.data import OFFLINE, load_mnist
from common.nets.training import load_cnn
from common.occlusion.engine import (
    INCREMENTAL_CHUNK,
    FoldedCNN,
    full_flops,
    num_positions,
    occlude,
    plan_blocks,
    plan_flops,
)

TOLERANCE = 1e-5
GOAL_SPEEDUP, GOAL_SHARE = 3.0, 0.5
# Captum's configurations: name -> (perturbations_per_eval, digits per call; None: all of them).
CAPTUM = {"ppe=1, all digits in one call": (1, None), "ppe=1, one digit per call": (1, 1),
          "ppe=64, one digit per call": (64, 1), "ppe=441, one digit per call": (441, 1)}
SLOW = "ppe=1, one digit per call"  # 441 forwards of one image per digit: timed on fewer digits
CHUNKS = (64, 128, 256, 441, 882)



# ----------------------------------------------------------------------------- the benchmark
class Setup(NamedTuple):
    """The model and digits: all `n_main` of them timed, `n_small` for the slow peers, `n_steps`
    for the steps and chunk sizes; `repeats` interleaved rounds."""
    model: nn.Module
    images: torch.Tensor
    targets: torch.Tensor
    n_main: int
    n_small: int
    n_steps: int
    repeats: int


class Timed(NamedTuple):
    """The interleaved timing of every engine: raw stats, maps per second and page faults per map."""
    timed: dict[str, Stat]
    maps_per_s: dict[str, Stat]
    faults: dict[str, float]
    onednn: bool  # whether oneDNN's matmul was timed too


class Work(NamedTuple):
    """FLOPs: per forward, per map (441 forwards), what ours performs for a map, and per occluded
    copy for the incremental and the full forward."""
    flops: int
    useful: int
    performed: int
    incremental: float
    full: float


def setup(quick: bool) -> Setup:
    """The trained CNN (quick: a seeded untrained one) and every 10th test digit, 2 torch threads."""
    torch.set_num_threads(2)
    if quick:  # a seeded untrained CNN: the agreement checks hold for any weights, and the smoke
        torch.manual_seed(0)  # test then neither trains nor writes checkpoints/
        model = CNN().eval()
    else:
        model, _ = load_cnn(OFFLINE, progress=False)
    test = load_mnist("test", OFFLINE)
    n_main, n_small, n_steps = (2, 1, 2) if quick else (100, 5, 20)
    return Setup(model, test.images[::10][:n_main], test.labels[::10][:n_main], n_main, n_small,
                 n_steps, 3 if quick else 5)


def errors(s: Setup, ndig: dict[str, int]) -> tuple[float, dict[str, float]]:
    """Largest absolute differences of our maps from the naive loop's, and of the attribution
    derived from them from Captum's in each configuration (on the digits each one is timed on)."""
    ours = occlude(s.model, s.images, patch=PATCH, stride=STRIDE, fill=FILL)
    naive_err = (ours[:s.n_small] - naive_maps(s.model, s.images[:s.n_small])).abs().max().item()
    with torch.no_grad():
        clean = F.softmax(s.model(s.images), dim=1)
    derived = attribution_from_map(ours, clean, s.targets)
    captum_err = {name: (captum_maps(s.model, s.images[:ndig[name]], s.targets[:ndig[name]], ppe, per_call)
                         - derived[:ndig[name]]).abs().max().item()
                  for name, (ppe, per_call) in CAPTUM.items()}
    return naive_err, captum_err


def agreement_text(naive_err: float, captum_err: dict[str, float], n_small: int) -> str:
    return (f"maps equal to the naive loop's to {naive_err:.1e} ({n_small} digits, all 10 "
            "classes); the attribution derived from them equals Captum's to "
            + ", ".join(f"{e:.1e} ({k})" for k, e in captum_err.items())
            + f"; tolerance {TOLERANCE:g}")


def time_maps(s: Setup, ndig: dict[str, int]) -> Timed:
    """Ours, Captum in each configuration, the naive loop and the matmuls, interleaved; then one
    more, untimed call of each map engine for its page faults."""
    model, images, targets = s.model, s.images, s.targets
    fns: dict[str, Callable[[], object]] = {"ours": lambda: occlude(model, images)}
    for name, (ppe, per_call) in CAPTUM.items():
        k = ndig[name]
        fns[name] = lambda k=k, ppe=ppe, per_call=per_call: captum_maps(model, images[:k], targets[:k],
                                                                        ppe, per_call)
    fns["naive loop"] = lambda: naive_maps(model, images[:s.n_small])
    fns["torch.mm"] = matmul()
    onednn = onednn_matmul()
    if onednn is not None:
        fns["oneDNN matmul"] = onednn
    digits = {"ours": s.n_main, "naive loop": s.n_small, **ndig}
    timed = interleaved(fns, repeats=s.repeats, min_seconds=0.0)
    maps_per_s = {name: rate(timed[name], k) for name, k in digits.items()}
    faults = {name: page_faults(fns[name]) / k for name, k in digits.items() if name != "naive loop"}
    return Timed(timed, maps_per_s, faults, onednn is not None)


def work(s: Setup) -> Work:
    """The FLOPs of one forward and one map, and what our engine performs (FlopCounterMode)."""
    flops = forward_flops(s.model, s.images[:1])
    useful = num_positions(SIZE, PATCH, STRIDE) ** 2 * flops  # per map
    net = FoldedCNN(s.model)
    incremental, full = plan_flops(plan_blocks(SIZE, SIZE, PATCH, STRIDE), net), full_flops(SIZE, SIZE, net)
    performed = forward_flops(lambda x: occlude(s.model, x), s.images[:1])
    return Work(flops, useful, performed, incremental, full)


def main_rows(s: Setup, ndig: dict[str, int], t: Timed, gflops: Stat, mm: Stat,
              best_name: str) -> list[dict[str, Any]]:
    """The table: maps/s against each Captum configuration and the naive loop, GFLOP/s against
    the matmuls."""
    maps_per_s, rows = t.maps_per_s, []
    for name in CAPTUM:
        peer = maps_per_s[name]
        ppe, per_call = CAPTUM[name]
        batch = f"forward batch {(per_call or s.n_main) * ppe}"
        rows.append(row(f"maps/s vs Captum, {name}" + (" (its best)" if name == best_name else ""),
                        maps_per_s["ours"], peer, ratio_=maps_per_s["ours"]["median"] / peer["median"],
                        unit=" maps/s", target=f">= {GOAL_SPEEDUP:g}x" if name == best_name else None,
                        note=batch + (f"; timed on {ndig[name]} digits" if name == SLOW else "")))
    rows.append(row("maps/s vs naive per-position loop", maps_per_s["ours"], maps_per_s["naive loop"],
                    ratio_=maps_per_s["ours"]["median"] / maps_per_s["naive loop"]["median"],
                    unit=" maps/s", note=f"naive loop timed on {s.n_small} digits"))
    rows.append(row(f"GFLOP/s (441 forwards per map) vs torch.mm {MM_N}²", gflops, mm,
                    ratio_=gflops["median"] / mm["median"], unit=" GFLOP/s", target=f">= {GOAL_SHARE:.0%} of mm"))
    if t.onednn:
        mm_dnn = rate(t.timed["oneDNN matmul"], 2 * MM_N ** 3 / 1e9)
        rows.append(row(f"GFLOP/s vs oneDNN's {MM_N}² matmul (the convolutions' library)", gflops,
                        mm_dnn, ratio_=gflops["median"] / mm_dnn["median"], unit=" GFLOP/s"))
    return rows


def main_notes(s: Setup, t: Timed, w: Work) -> list[str]:
    """How the maps were timed, the work counted, the page faults and the matmuls' libraries."""
    p = num_positions(SIZE, PATCH, STRIDE)
    n_main, useful, performed = s.n_main, w.useful, w.performed
    conv1_bytes = s.model.conv1.out_channels * SIZE * SIZE * 4  # float32, per forward
    notes = [f"Maps per second: median (min–max) over {s.repeats} interleaved rounds; everything on "
             f"the same {n_main} digits except Captum {SLOW} and the naive loop ({s.n_small} digits). "
             "Left out: Captum at ppe=64 and ppe=441 with all digits in one call, whose forward "
             f"batches are digits x ppe ({64 * n_main:,} and {441 * n_main:,} here): conv1's output "
             f"alone is {441 * n_main * conv1_bytes / 1e9:.1f} GB at ppe=441.",
             f"FLOPs per forward {w.flops:,} (FlopCounterMode, one image); a map is {p * p} forwards = "
             f"{useful / 1e9:.3f} GFLOP, the work that the GFLOP/s rows credit to every engine. "
             f"FlopCounter around our `occlude` of one digit: {performed / 1e9:.3f} GFLOP "
             f"({performed / useful:.0%} of it, the clean activations included): the incremental "
             f"engine recomputes only the windows that the patch changes ({w.incremental / 1e6:.2f} "
             f"MFLOP per occluded copy against {w.full / 1e6:.2f}), so its GFLOP/s can pass the "
             "machine's arithmetic rate.",
             "Minor page faults per map (one more, untimed call each): " + ", ".join(
                 f"{k} {v:,.0f}" for k, v in t.faults.items()) + "."]
    if max(t.faults.values()) > 1000:
        notes.append("Page faults: the allocator returned large freed blocks to the OS and asked "
                     "for fresh pages again, at a cost that depends on what ran before.")
    if t.onednn:
        notes.append(mm_libraries_note(cpu_model(), vector_extensions()))
    return notes


def mm_libraries_note(cpu: str, extensions: str) -> str:
    """Which library each matmul rate comes from, on the CPU named `cpu`: MKL picks its own kernels
    from the CPU (AVX2 ones on AMD), whatever torch and oneDNN are restricted to."""
    kernels = "its AVX2 kernels (MKL's choice on AMD)" if "AMD" in cpu else "the kernels it picks for it"
    return (f"torch.mm goes through MKL, which on the {cpu} ({extensions}) runs {kernels}, whatever the "
            "instruction set torch and oneDNN are given; the convolutions go through oneDNN, at the "
            "instruction set named in the heading. oneDNN's own matmul is the ceiling of the "
            "convolutions' library.")


def time_steps(s: Setup) -> tuple[dict[str, Stat], dict[str, float]]:
    """Maps per second of each step from the CNN to the engine, interleaved, and the largest
    absolute difference of each one's maps from the CNN's."""
    steps_fns = steps(s.model, s.images[:s.n_steps])
    ref = steps_fns["the CNN as it is (NCHW)"]()
    step_err = {k: (f() - ref).abs().max().item() for k, f in steps_fns.items()}
    steps_t = interleaved(steps_fns, repeats=s.repeats, min_seconds=0.0)
    return {k: rate(v, s.n_steps) for k, v in steps_t.items()}, step_err


def time_chunks(s: Setup) -> tuple[dict[str, Stat], dict[str, float]]:
    """The engine at each chunk size: time stats, interleaved, and minor page faults per map."""
    chunk_fns = {str(c): lambda c=c: occlude(s.model, s.images[:s.n_steps], chunk=c) for c in CHUNKS}
    chunk_t = interleaved(chunk_fns, repeats=s.repeats, min_seconds=0.0)
    return chunk_t, {c: page_faults(f) / s.n_steps for c, f in chunk_fns.items()}


def step_rows(step_rates: dict[str, Stat], n_steps: int) -> list[dict[str, Any]]:
    """One row per step, against the CNN as it is."""
    base = step_rates["the CNN as it is (NCHW)"]["median"]
    return [row(f"step: {k.strip()}", v, step_rates["the CNN as it is (NCHW)"],
                ratio_=v["median"] / base, unit=" maps/s", note=f"{n_steps} digits; peer = the CNN as it is")
            for k, v in step_rates.items()]


def chunks_note(chunk_t: dict[str, Stat], chunk_faults: dict[str, float], n_steps: int) -> str:
    return ("Chunk sizes (maps/s, minor page faults per map): " + "; ".join(
        f"{c}: {rate(chunk_t[c], n_steps)['median']:.0f}, {chunk_faults[c]:,.0f}" for c in chunk_t)
        + f". The engine's default is {INCREMENTAL_CHUNK}.")


def goals(speedup: float, best_name: str, best: Stat, ours: Stat, share: float, gflops: Stat,
          mm: Stat, agree: bool, max_err: float) -> list[dict[str, Any]]:
    return [goal(f"at least {GOAL_SPEEDUP:g}x Captum's best (ppe 1, 64, 441)", speedup >= GOAL_SPEEDUP,
                 f"{speedup:.2f}x (ours {ours['median']:.1f} maps/s, Captum "
                 f"{best_name} {best['median']:.1f})"),
            goal(f"at least {GOAL_SHARE:.0%} of the {MM_N}² float32 torch.mm rate",
                 share >= GOAL_SHARE,
                 f"{share:.0%} ({gflops['median']:.0f} of {mm['median']:.0f} GFLOP/s)"),
            goal(f"maps equal to {TOLERANCE:g}", agree, f"{max_err:.1e} at most")]


def config(s: Setup) -> dict[str, Any]:
    return {"patch": PATCH, "stride": STRIDE, "fill": FILL, "digits": s.n_main,
            "digits_small": s.n_small, "digits_steps": s.n_steps, "chunk": INCREMENTAL_CHUNK,
            "repeats": s.repeats, "torch_threads": torch.get_num_threads(),
            "data": f"{OFFLINE} test, every 10th digit", "mm": f"{MM_N}x{MM_N} float32",
            "model": f"checkpoints/cnn-{OFFLINE}.pt"}


def run(quick: bool = False) -> dict[str, Any]:
    """The benchmark's result (bench.common.result); `quick`: 2 digits of an untrained CNN, no
    steps or chunk sizes. Agreement first; nothing is timed unless the maps agree."""
    s = setup(quick)
    ndig = {name: s.n_small if name == SLOW else s.n_main for name in CAPTUM}  # digits timed
    naive_err, captum_err = errors(s, ndig)
    agree = naive_err <= TOLERANCE and all(e <= TOLERANCE for e in captum_err.values())
    agreement = agreement_text(naive_err, captum_err, s.n_small)
    title = "Occlusion maps: our engine vs Captum"
    who = {"ours": "common.occlusion.engine.occlude (IncrementalCNN)",
           "peer": "captum.attr.Occlusion at ppe 1, 64, 441; a naive per-position loop"}
    if not agree:
        return result("occlusion", title, quick, **who, agree=False,
                      agreement=agreement + ": NOT timed", rows=[],
                      goals=[goal(f"maps equal to {TOLERANCE:g}", False, agreement)])

    t = time_maps(s, ndig)
    w = work(s)
    mm = rate(t.timed["torch.mm"], 2 * MM_N ** 3 / 1e9)
    gflops = rate(t.timed["ours"], s.n_main * w.useful / 1e9)
    share = gflops["median"] / mm["median"]
    best_name = max(CAPTUM, key=lambda name: t.maps_per_s[name]["median"])
    best = t.maps_per_s[best_name]
    speedup = t.maps_per_s["ours"]["median"] / best["median"]
    rows = main_rows(s, ndig, t, gflops, mm, best_name)
    detail: dict[str, Any] = {"timed": t.timed, "maps_per_second": t.maps_per_s,
                              "page_faults_per_map": t.faults, "flops_per_forward": w.flops,
                              "flops_per_map": w.useful, "flops_per_map_performed_by_ours": w.performed,
                              "captum_max_abs_error": captum_err, "naive_max_abs_error": naive_err}
    notes = main_notes(s, t, w)
    if not quick:
        step_rates, step_err = time_steps(s)
        chunk_t, chunk_faults = time_chunks(s)
        detail.update({"steps_maps_per_second": step_rates, "steps_max_abs_error": step_err,
                       "chunks_maps_per_second": {c: rate(v, s.n_steps) for c, v in chunk_t.items()},
                       "chunks_page_faults_per_map": chunk_faults})
        rows += step_rows(step_rates, s.n_steps)
        worst = max(step_err.values())
        agree = agree and worst <= TOLERANCE
        agreement += f"; every step's maps equal the CNN's to {worst:.1e}"
        notes.append(chunks_note(chunk_t, chunk_faults, s.n_steps))
    return result("occlusion", title, quick, **who, agree=agree, agreement=agreement, rows=rows,
                  goals=goals(speedup, best_name, best, t.maps_per_s["ours"], share, gflops, mm, agree,
                              max(naive_err, *captum_err.values())),
                  notes=notes, config=config(s), detail=detail)
