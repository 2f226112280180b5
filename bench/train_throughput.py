"""Training throughput at the study's configuration: the study's own loop vs tuirnn's Trainer.

    python bench/train_throughput.py                      # hidden 512, the study's model 2
    python bench/train_throughput.py --hidden 128 --steps 10 --warmup 2   # a quick check
    python bench/train_throughput.py --hidden 1024 --device cuda
    python bench/train_throughput.py --precision bf16 --no-cuda-graph     # the Trainer's GPU settings

Both sides train the same 2-layer LSTM (embedding 42, dropout 0.1) on the same 90% of the Nietzsche text
(newlines as spaces), in non-overlapping 42-char windows, batch 64, Adam 1e-3, no clipping, hidden state
carried (detached) between batches, from the same seed, so they start from identical weights and see
identical batches (and, on the CPU, reach bit-identical losses). Each side runs `--warmup` untimed steps
and then `--steps` timed ones, in one of two ways:

- `--interleave step` (the default on a CPU): one baseline step, one Trainer step, and so on, each timed
  alone, so a noisy shared machine slows both sides alike;
- `--interleave run` (the default on a GPU): each side trains alone, `--rounds` rounds alternating which
  goes first (ABBA...); the Trainer runs untouched, keeping its asynchronous GPU steps.

The Trainer's side takes `--precision` and `--cuda-graph/--no-cuda-graph` (its `precision` and `cuda_graph`
settings; both act on a CUDA GPU only). The baseline always runs with torch's default precision flags: the
Trainer sets the process-wide TF32 flags, so they are put back to the defaults around every baseline step.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _study
import torch

from tuirnn.config import PRECISIONS, ConfigError, preset, with_overrides
from tuirnn.devices import pick_device
from tuirnn.events import Failed, Started, StepMetrics, TrainingControl
from tuirnn.training import Trainer

CHARS_PER_STEP = _study.STUDY_BATCH * _study.STUDY_SEQ_LEN
NEVER = 10**9
"""log_every for the interleaved mode: the Trainer reports only once, after the last (untimed) step."""


def ours_config(args, device: torch.device, total: int, log_every: int):
    return with_overrides(preset("study-rnn2"), {
        "hidden_size": args.hidden,
        "max_steps": total,
        "eval_every": 0,
        "sample_every": 0,
        "log_every": log_every,
        "eval_max_chars": CHARS_PER_STEP + 1,  # the closing evaluation is untimed; keep it short
        "val_fraction": _study.VAL_FRACTION,
        "seed": args.seed,
        "device": device.type,
        "precision": args.precision,
        "cuda_graph": args.cuda_graph,
    })


def precision_flags() -> tuple:
    """The process-wide float32 precision flags the Trainer sets on a CUDA GPU (see
    tuirnn.train_step.set_fp32_matmul_precision), read with the same API it writes them with."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):  # torch >= 2.9
        return ("fp32_precision", matmul.fp32_precision, torch.backends.cudnn.rnn.fp32_precision)
    return ("allow_tf32", matmul.allow_tf32, torch.backends.cudnn.allow_tf32)


def set_precision_flags(flags: tuple, device: torch.device) -> None:
    """Only on CUDA: elsewhere the Trainer leaves the flags alone and the baseline needs nothing."""
    if device.type != "cuda":
        return
    api, matmul_flag, cudnn_flag = flags
    if api == "fp32_precision":
        torch.backends.cuda.matmul.fp32_precision = matmul_flag
        torch.backends.cudnn.rnn.fp32_precision = cudnn_flag
    else:
        torch.backends.cuda.matmul.allow_tf32 = matmul_flag
        torch.backends.cudnn.allow_tf32 = cudnn_flag


DEFAULT_FLAGS = precision_flags()
"""torch's defaults, read at import, before any Trainer ran: the flags the study's loop ran with."""


def device_recorder(into: list[str]):
    """A Trainer subscriber that keeps the `Started` event's device text (on CUDA: GPU, precision, graph)."""
    def listen(event) -> None:
        if isinstance(event, Started):
            into.append(event.device)
    return listen


def run_trainer(trainer: Trainer):
    outcome = trainer.run()
    if isinstance(outcome, Failed):
        raise SystemExit(f"tuirnn Trainer failed: {outcome.kind}: {outcome.message}")
    return outcome


def interleaved(corpus, x, y, args, device: torch.device) -> dict:
    """One baseline step, one Trainer step, and so on, each timed on its own.

    The Trainer polls `TrainingControl`'s outside-cancellation callback once per loop iteration, before
    each step; the callback runs (and times) one baseline step and reports "don't stop". A Trainer step
    is timed from the callback's return to its next call, i.e. one whole iteration of its loop. The two
    sides keep separate dropout RNG streams, so each trains exactly as it would alone. Both sides run
    warmup + steps + 1 steps: the last one closes the last timed Trainer step."""
    torch.manual_seed(args.seed)
    study = _study.StudyTrainer(_study.StudyLSTM(len(corpus.vocab), hidden_size=args.hidden), x, y, device)
    timed_steps = range(args.warmup + 1, args.warmup + args.steps + 1)  # 1-based step numbers
    total = args.warmup + args.steps + 1
    shared = {"calls": 0, "left_at": 0.0, "rng": _study.rng_state(device)}
    base_s: list[float] = []
    ours_s: list[float] = []

    def between_steps() -> bool:
        _study.sync(device)
        entered = time.perf_counter()
        shared["calls"] += 1
        step = shared["calls"]  # the Trainer's step about to run, and the baseline's to run now
        if step - 1 in timed_steps:
            ours_s.append(entered - shared["left_at"])
        ours_rng = _study.rng_state(device)
        ours_flags = precision_flags()
        _study.set_rng_state(shared["rng"], device)
        set_precision_flags(DEFAULT_FLAGS, device)
        started = time.perf_counter()
        study.train_steps(1)  # ends in .item(): synchronised
        if step in timed_steps:
            base_s.append(time.perf_counter() - started)
        shared["rng"] = _study.rng_state(device)
        _study.set_rng_state(ours_rng, device)
        set_precision_flags(ours_flags, device)
        _study.sync(device)
        shared["left_at"] = time.perf_counter()
        return False

    trainer = Trainer(ours_config(args, device, total, NEVER), corpus, run=None,
                      control=TrainingControl(cancelled=between_steps))
    device_text: list[str] = []
    trainer.subscribe(device_recorder(device_text))
    finished = run_trainer(trainer)
    if shared["calls"] != total or len(ours_s) != args.steps:
        raise SystemExit(f"the Trainer polled its control {shared['calls']} times for {total} steps; "
                         "the interleaving hook no longer fits the loop: use --interleave run")
    return {
        "baseline": {"step_seconds": base_s, "final_loss": study.losses[-1], "peak_memory_bytes": None},
        "ours": {"step_seconds": ours_s, "final_loss": finished.last_loss, "peak_memory_bytes": None,
                 "device": device_text[-1] if device_text else None},
        "final_step": total,
    }


def baseline_run(corpus, x, y, args, device: torch.device) -> dict:
    set_precision_flags(DEFAULT_FLAGS, device)  # a Trainer that ran before in this process may have changed them
    torch.manual_seed(args.seed)
    study = _study.StudyTrainer(_study.StudyLSTM(len(corpus.vocab), hidden_size=args.hidden), x, y, device)
    study.train_steps(args.warmup)
    _study.reset_peak_memory(device)
    seconds, last_loss = _study.timed(lambda: study.train_steps(args.steps), device)
    return {"seconds": seconds, "final_loss": last_loss, "peak_memory_bytes": _study.peak_memory(device)}


def ours_run(corpus, args, device: torch.device) -> dict:
    """The Trainer untouched: StepMetrics.elapsed_s (read after a device sync inside the Trainer) at the
    end of the warmup and at the last step brackets the timed steps. log_every = warmup, so the timed
    stretch also holds a report (a float() and a gradient norm) every `warmup` steps."""
    total = args.warmup + args.steps
    reports: dict[int, StepMetrics] = {}

    def listen(event) -> None:
        if isinstance(event, StepMetrics):
            reports[event.step] = event
            if event.step == args.warmup:
                _study.reset_peak_memory(device)

    trainer = Trainer(ours_config(args, device, total, args.warmup or total), corpus, run=None)
    device_text: list[str] = []
    trainer.subscribe(listen)
    trainer.subscribe(device_recorder(device_text))
    run_trainer(trainer)
    started = reports[args.warmup].elapsed_s if args.warmup > 0 else 0.0
    return {"seconds": reports[total].elapsed_s - started, "final_loss": reports[total].last_loss,
            "peak_memory_bytes": _study.peak_memory(device), "device": device_text[-1] if device_text else None,
            "events_chars_per_s": [round(r.chars_per_s, 1) for s, r in sorted(reports.items()) if s > args.warmup]}


def whole_runs(corpus, x, y, args, device: torch.device, rounds: int) -> list[dict]:
    """Each side runs alone, rounds alternating who goes first (ABBA...)."""
    results = []
    for r in range(rounds):
        order = ("baseline", "ours") if r % 2 == 0 else ("ours", "baseline")
        result: dict = {"order": list(order)}
        for side in order:
            result[side] = (baseline_run(corpus, x, y, args, device) if side == "baseline"
                            else ours_run(corpus, args, device))
        results.append(result)
        rate = {side: args.steps * CHARS_PER_STEP / result[side]["seconds"] for side in ("baseline", "ours")}
        print(f"round {r + 1}/{rounds}: baseline {rate['baseline']:.0f} chars/s, ours {rate['ours']:.0f} chars/s",
              file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=_study.STUDY_HIDDEN, help="LSTM hidden size (study: 512)")
    parser.add_argument("--steps", type=int, default=25, help="timed optimizer steps per side (and per round)")
    parser.add_argument("--warmup", type=int, default=4, help="untimed steps before timing, per side (and per round)")
    parser.add_argument("--interleave", choices=("auto", "step", "run"), default="auto",
                        help="step: alternate single steps (robust to a noisy shared CPU); run: whole runs in "
                             "ABBA order (the Trainer untouched, keeps its asynchronous GPU steps); "
                             "auto: step on the CPU, run on a GPU")
    parser.add_argument("--rounds", type=int, default=0, help="repetitions (0: 1 with --interleave step, 2 with run)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="the Trainer's precision setting (CUDA only; auto = TF32 where the GPU has it)")
    parser.add_argument("--cuda-graph", action=argparse.BooleanOptionalAction, default=True,
                        help="the Trainer's cuda_graph setting: replay each step from a CUDA graph (CUDA only)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads for both sides (0: leave as is)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--corpus", default=str(_study.DEFAULT_CORPUS),
                        help="text file (default: the study's Nietzsche)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.rounds < 0 or args.hidden < 1:
        parser.error("--steps and --hidden must be at least 1, --warmup and --rounds at least 0")

    threads = _study.setup_threads(args.threads)
    try:
        device = pick_device(args.device)
    except ConfigError as exc:
        parser.error(str(exc))
    mode = args.interleave if args.interleave != "auto" else ("step" if device.type == "cpu" else "run")
    rounds = args.rounds or (1 if mode == "step" else 2)
    corpus = _study.load_corpus(args.corpus)
    train_ids, _ = corpus.split(_study.VAL_FRACTION)
    x, y = _study.study_windows(train_ids)
    if args.warmup + args.steps + 1 > len(x) // _study.STUDY_BATCH:
        print("note: the steps span more than one epoch", file=sys.stderr)

    if mode == "step":
        results = []
        for r in range(rounds):
            results.append(interleaved(corpus, x, y, args, device))
            b, o = (sum(results[-1][side]["step_seconds"]) for side in ("baseline", "ours"))
            print(f"round {r + 1}/{rounds}: baseline {args.steps * CHARS_PER_STEP / b:.0f} chars/s, "
                  f"ours {args.steps * CHARS_PER_STEP / o:.0f} chars/s", file=sys.stderr)
        for result in results:
            for side in ("baseline", "ours"):
                result[side]["seconds"] = sum(result[side]["step_seconds"])
    else:
        results = whole_runs(corpus, x, y, args, device, rounds)

    def rate(side: str) -> float:
        return rounds * args.steps * CHARS_PER_STEP / sum(r[side]["seconds"] for r in results)

    baseline_rate, ours_rate = rate("baseline"), rate("ours")
    per_round = [r["baseline"]["seconds"] / r["ours"]["seconds"] for r in results]
    last = results[-1]
    output = {
        "benchmark": "train_throughput",
        "device": _study.device_name(device),
        "torch": torch.__version__,
        "threads": threads,
        "config": {
            "corpus": Path(args.corpus).name, "chars": len(corpus), "vocab": len(corpus.vocab),
            "cell": "lstm", "layers": _study.STUDY_LAYERS, "embedding": _study.STUDY_EMBEDDING,
            "hidden": args.hidden, "dropout": _study.STUDY_DROPOUT, "seq_len": _study.STUDY_SEQ_LEN,
            "batch": _study.STUDY_BATCH, "lr": _study.STUDY_LR, "seed": args.seed,
        },
        "precision": args.precision,
        "cuda_graph": args.cuda_graph,
        "ours_device": last["ours"]["device"],
        "interleave": mode,
        "steps": args.steps,
        "warmup": args.warmup,
        "rounds": rounds,
        "chars_per_step": CHARS_PER_STEP,
        "baseline_chars_per_s": round(baseline_rate, 1),
        "ours_chars_per_s": round(ours_rate, 1),
        "ratio": round(ours_rate / baseline_rate, 3),
        "ratio_per_round": [round(v, 3) for v in per_round],
    }
    devices = [r["ours"]["device"] for r in results]
    if len(set(devices)) > 1:  # e.g. a capture that failed in one round only
        output["ours_device_per_round"] = devices
    if mode == "step":
        base_steps = [s for r in results for s in r["baseline"]["step_seconds"]]
        ours_steps = [s for r in results for s in r["ours"]["step_seconds"]]
        output.update({
            "baseline_median_step_s": round(_study.median(base_steps), 5),
            "ours_median_step_s": round(_study.median(ours_steps), 5),
            "ratio_median_step": round(_study.median(base_steps) / _study.median(ours_steps), 3),
            "final_loss_step": last["final_step"],
        })
    else:
        output["ours_events_chars_per_s"] = last["ours"]["events_chars_per_s"]
        output["final_loss_step"] = args.warmup + args.steps
    output.update({
        "baseline_final_loss": round(last["baseline"]["final_loss"], 6),
        "ours_final_loss": round(last["ours"]["final_loss"], 6),
        "final_loss_abs_diff": abs(last["baseline"]["final_loss"] - last["ours"]["final_loss"]),
        "baseline_peak_memory_bytes": last["baseline"]["peak_memory_bytes"],
        "ours_peak_memory_bytes": last["ours"]["peak_memory_bytes"],
    })
    _study.print_json(output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
