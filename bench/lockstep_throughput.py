"""Aggregate training chars/s of K same-shaped models stepped in lockstep in one process, vs one alone.

    python bench/lockstep_throughput.py                   # CPU: hidden 64, K = 1, 2 (checks the script)
    python bench/lockstep_throughput.py --device cuda     # hidden 512, K = 1, 2, 4, 8

Why: at the study's sizes (2-layer LSTM, hidden 512, batch 64, seq 42) one training step leaves most of a
GPU idle, and a sweep trains many models of one shape. The local sweep engine gives each trial its own
process (bench/sweep_throughput.py measures K of them at once). The alternative measured here is a
lockstep engine: K models in one process, each step replayed from the model's own CUDA graph
(tuirnn.train_step.TrainStep) on the model's own CUDA stream, so the GPU can overlap the K steps.

For each K in --group (K = 1, the baseline, always runs first): K models of the `study-rnn2` shape with
hidden --hidden and no dropout, each with its own seed (--seed + k), its own Adam and TrainStep, all
reading the same device-resident batches. No dropout, because two CUDA graphs that draw dropout masks
cannot live in one process: replaying the first after the second's capture was an illegal memory access
on an H200 with torch 2.11 (bench/results/2026-11-29-h200), and TrainStep now runs the second eagerly.
A lockstep round runs one step of every model, in order; --warmup rounds
are untimed, then --steps rounds are timed between device syncs, with no host read of a device value in
between (the losses are read at the end). Off CUDA the steps run one after another on the one stream,
which only checks the script.

Prints one JSON object (progress lines go to stderr); exits 1 if a model's last loss is not finite.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _study
import torch

from tuirnn.batching import Batches, make_batches, to_device_ids
from tuirnn.config import PRECISIONS, ConfigError, RunConfig, preset, with_overrides
from tuirnn.devices import pick_device
from tuirnn.models import CharRNN
from tuirnn.optimization import make_optimizer
from tuirnn.train_step import TrainStep, resolve_precision, set_fp32_matmul_precision

CHARS_PER_STEP = _study.STUDY_BATCH * _study.STUDY_SEQ_LEN


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_group(text: str) -> list[int]:
    """Distinct positive K values, ascending, with the baseline K = 1 always among them."""
    values = {int(part) for part in text.split(",") if part.strip()}
    if any(k < 1 for k in values):
        raise ValueError("every K must be at least 1")
    return sorted(values | {1})


def build(base: RunConfig, k: int, vocab: int, batches: Batches, precision: str, use_graph: bool,
          seed: int, device: torch.device) -> list[TrainStep]:
    """K models as the Trainer builds them (model, make_optimizer, TrainStep), each captured on the
    current stream with the first batch."""
    runners = []
    for i in range(k):
        config = with_overrides(base, {"dropout": 0.0, "seed": seed + i})
        torch.manual_seed(config.train.seed)
        model = CharRNN(config.model, vocab).to(device)
        runner = TrainStep(model, make_optimizer(config.train, model, device), batches.batch(0),
                           batches.targets_last, config.data.carry_state, config.train.clip_norm, precision, use_graph)
        runner.prepare(*batches.batch(0))
        runners.append(runner)
    return runners


def lockstep(runners: list[TrainStep], streams: list[torch.cuda.Stream | None], batches: Batches,
             first: int, rounds: int) -> None:
    """`rounds` rounds from step `first`: each round one step of every model, each on its own stream."""
    for step in range(first, first + rounds):
        index = step % len(batches)
        inputs, targets = batches.batch(index)  # views of the ids: no kernel, usable on any stream
        for runner, stream in zip(runners, streams, strict=False):
            with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
                runner.run(inputs, targets, fresh_state=index == 0)


def run_group(base: RunConfig, k: int, vocab: int, batches: Batches, precision: str, args,
              device: torch.device) -> dict:
    gc.collect()  # the previous group's models and graphs must not count in this one's peak memory
    _study.reset_peak_memory(device)
    runners = build(base, k, vocab, batches, precision, args.cuda_graph, args.seed, device)
    streams: list[torch.cuda.Stream | None] = [None] * k
    if device.type == "cuda":
        streams = [torch.cuda.Stream(device) for _ in range(k)]
        for stream in streams:  # the weights, buffers and batches were written on the current stream
            stream.wait_stream(torch.cuda.current_stream(device))
    lockstep(runners, streams, batches, 0, args.warmup)
    _study.sync(device)
    started = time.perf_counter()
    lockstep(runners, streams, batches, args.warmup, args.steps)
    enqueued = time.perf_counter()
    _study.sync(device)
    seconds = time.perf_counter() - started
    losses = [float(runner.loss) for runner in runners]
    chars_per_s = k * args.steps * CHARS_PER_STEP / seconds
    result = {
        "k": k,
        "dropouts": [runner.model.config.dropout for runner in runners],
        "seconds": round(seconds, 4),
        "host_s": round(enqueued - started, 4),
        "chars_per_s": round(chars_per_s, 1),
        "per_model_chars_per_s": round(chars_per_s / k, 1),
        "peak_memory_bytes": _study.peak_memory(device),
        "final_losses": [round(loss, 5) for loss in losses],
        "losses_finite": all(math.isfinite(loss) for loss in losses),
        "step_modes": [runner.description for runner in runners],
    }
    log(f"K={k}: {chars_per_s:.0f} chars/s aggregate ({chars_per_s / k:.0f} per model) in {seconds:.2f} s, "
        f"host {result['host_s']:.2f} s; {', '.join(sorted(set(result['step_modes'])))}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", default="",
                        help="comma-separated K values (default: 1,2,4,8 on CUDA, 1,2 elsewhere)")
    parser.add_argument("--hidden", type=int, default=0, help="LSTM hidden size (default: 512 on CUDA, 64 elsewhere)")
    parser.add_argument("--steps", type=int, default=50, help="timed lockstep rounds (one step of every model each)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds before timing")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="CUDA only; auto = TF32 where the GPU has it")
    parser.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction, default=True,
                        help="replay each model's step from its own CUDA graph (CUDA only)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: leave as is)")
    parser.add_argument("--seed", type=int, default=1234, help="model k's seed is seed + k")
    parser.add_argument("--corpus", default=str(_study.DEFAULT_CORPUS),
                        help="text file (default: the study's Nietzsche)")
    args = parser.parse_args(argv)
    try:
        device = pick_device(args.device)
        group = parse_group(args.group or ("1,2,4,8" if device.type == "cuda" else "1,2"))
    except (ConfigError, ValueError) as exc:
        parser.error(str(exc))
    args.hidden = args.hidden or (_study.STUDY_HIDDEN if device.type == "cuda" else 64)
    if args.steps < 1 or args.warmup < 0 or args.hidden < 1:
        parser.error("--steps and --hidden must be at least 1, --warmup at least 0")

    threads = _study.setup_threads(args.threads)
    precision, precision_note = resolve_precision(args.precision, device)
    if device.type == "cuda":
        set_fp32_matmul_precision(precision)
    base = with_overrides(preset("study-rnn2"), {"hidden_size": args.hidden, "device": device.type,
                                                 "precision": args.precision, "cuda_graph": args.cuda_graph})
    corpus = _study.load_corpus(args.corpus)
    train_ids, _ = corpus.split(base.data.val_fraction)
    batches = make_batches(to_device_ids(train_ids, device), base.data, base.train.batch_size)

    results = [run_group(base, k, len(corpus.vocab), batches, precision, args, device) for k in group]
    alone = results[0]["chars_per_s"]
    for result in results:
        result["ratio"] = round(result["chars_per_s"] / alone, 3)
    best = max(results, key=lambda result: result["chars_per_s"])
    m, t = base.model, base.train
    _study.print_json({
        "benchmark": "lockstep_throughput",
        "device": _study.device_name(device),
        "torch": torch.__version__,
        "threads": threads,
        "config": {
            "corpus": Path(args.corpus).name, "chars": len(corpus), "vocab": len(corpus.vocab),
            "cell": m.cell, "layers": m.layers, "embedding": m.embedding_size, "hidden": m.hidden_size,
            "seq_len": base.data.seq_len, "batch": t.batch_size, "optimizer": t.optimizer, "lr": t.lr,
            "seed": args.seed,
        },
        "precision": precision,
        "precision_note": precision_note,
        "cuda_graph": args.cuda_graph,
        "streams": device.type == "cuda",
        "steps": args.steps,
        "warmup": args.warmup,
        "chars_per_step": CHARS_PER_STEP,
        "groups": results,
        "ratios": {str(result["k"]): result["ratio"] for result in results},
        "best": {"k": best["k"], "chars_per_s": best["chars_per_s"], "ratio": best["ratio"]},
        "compare_with": (
            f"bench/sweep_throughput.py --device {device.type} --hidden {args.hidden} --steps {args.steps} "
            f"--workers {','.join(map(str, group))}: the same models as K processes at once. A lockstep engine "
            "is worth building if a K's chars_per_s here beats that K's aggregate there (its results[K]: "
            "chars_per_s over the wall time, process start-up included, and K x trial_chars_per_s_median, "
            "training only, which is the like-for-like figure)."),
    })
    return 0 if all(result["losses_finite"] for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
