"""Aggregate training throughput of the local sweep engine with K trials at once, vs the same trials in sequence.

    python bench/sweep_throughput.py                           # CPU: hidden 128, K = 1, 2 and auto
    python bench/sweep_throughput.py --workers 1,2,4,8,auto    # the GPU default
    python bench/sweep_throughput.py --hidden 512 --steps 1000 --device cuda

A small grid sweep is built in code: the `study-rnn2` base (2-layer LSTM, embedding 42, non-overlapping
42-char windows, loss at every position, batch 64, Adam 1e-3) with hidden `--hidden`, `max_steps =
--steps`, `eval_every = 0`, `sample_every = 0` and a one-batch closing evaluation, and one axis,
`dropout`, with `--trials` values (default: the largest K asked for, auto's included), so every K runs the
very same trials. For each K in `--workers` the sweep runs in a fresh sweep directory under a temporary
folder with `tuirnn.sweeps.local.LocalEngine(sweep, workers=K)` (K = auto: `workers=None`, the engine's own
choice). The engine is used as is; a thin subclass only records when each trial's process was started,
its messages arrived and it ended, and the capacity (K, threads) the engine chose.

The baseline runs the same trial configs one after another in this process, each as a plain
`tuirnn.training.Trainer` with its own run directory (so it writes the same metrics and closing
checkpoint as a trial does), with as many torch threads as the engine gives a single trial (all cores).

For each K (and the baseline) the whole study is extrapolated from the measured aggregate rate: the
characters every trial of the study's sweep presets (`study-layers` and `study-grid`: 60 epochs each at
batch 64 x seq 42, on the same corpus, counted with the Trainer's own batching) would train, divided by
that rate. On a GPU the trials' reported peak GPU memory is kept too.

Prints one JSON object (progress lines go to stderr). The temporary folder is removed at the end.
"""

from __future__ import annotations

# Keep this module's top level light: the engine's worker processes are spawned, and a spawned process
# imports the parent's main module (this file) before it runs its trial, so anything imported here would
# be counted as the trials' start-up cost. The heavy imports are inside the functions.
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CORPUS = (REPO / ".." / "shared" / "corpora" / "nietzsche.txt").resolve()
CPU_HIDDEN, GPU_HIDDEN = 128, 512
CPU_STEPS, GPU_STEPS = 400, 1000
CPU_WORKERS, GPU_WORKERS = "1,2,auto", "1,2,4,8,auto"
SEQ_LEN, BATCH = 42, 64
CHARS_PER_STEP = SEQ_LEN * BATCH
MAX_DROPOUT = 0.5
"""The axis's values are spread over [0, 0.5)."""
STUDY_PRESETS = ("study-layers", "study-grid")
"""The study's sweeps, whose whole run time is extrapolated from each K's measured rate."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def ratio(a: float | None, b: float | None) -> float | None:
    return r(a / b) if a is not None and b else None


def shown(value: float | None, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


# ----------------------------------------------------------------------------------------------------
# the sweep

def build_sweep(args, device_type: str, corpus_spec: str, trials: int):
    from tuirnn.config import preset, with_overrides
    from tuirnn.sweeps.definition import Axis, SweepDefinition

    base = with_overrides(preset("study-rnn2"), {
        "hidden_size": args.hidden,
        "seq_len": SEQ_LEN,
        "stride": SEQ_LEN,
        "batch_size": BATCH,
        "max_steps": args.steps,
        "eval_every": 0,
        "sample_every": 0,
        "eval_max_chars": CHARS_PER_STEP + 1,  # the closing evaluation: one batch
        "log_every": args.log_every,
        "seed": args.seed,
        "corpus": corpus_spec,
        "device": device_type,
    })
    values = tuple(round(MAX_DROPOUT * i / trials, 4) for i in range(trials))
    return SweepDefinition("bench-sweep-throughput", base, (Axis("dropout", values),), strategy="grid",
                           metric="last_loss", pruning="none", seed=args.seed)


def auto_workers_cpu(definition) -> int:
    """What LocalEngine picks with workers=None on a CPU when there are enough trials."""
    from tuirnn.sweeps import capacity

    return capacity.cpu_slots(capacity.MAX_TRIALS_AT_ONCE, capacity.largest_trial_bytes(definition)).trials


def trial_rate_from_metrics(path: Path) -> tuple[float | None, int]:
    """A run's training chars/s from its metrics.jsonl: each logged row's chars_per_s covers the steps
    since the previous row, so the interval seconds add up to the training time (evaluation excluded)."""
    steps_done, seconds, previous = 0, 0.0, 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, 0
    rows = sorted((json.loads(line) for line in lines if line.strip()), key=lambda row: row["step"])
    for row in rows:
        if "chars_per_s" not in row or row["step"] <= previous:
            continue
        steps = row["step"] - previous
        seconds += steps * CHARS_PER_STEP / row["chars_per_s"]
        steps_done += steps
        previous = row["step"]
    return (steps_done * CHARS_PER_STEP / seconds if seconds > 0 else None), steps_done


def make_engine_class():
    from tuirnn.sweeps.local import LocalEngine

    class TimedEngine(LocalEngine):
        """LocalEngine untouched, plus timestamps (this process's perf_counter) and the capacity it chose."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.launched: dict[str, float] = {}
            self.threads: dict[str, int] = {}
            self.started_msg: dict[str, float] = {}
            self.last_step: dict[str, tuple[float, float, int]] = {}  # received, elapsed_s, step
            self.ended_at: dict[str, float] = {}
            self.gpu_peak: dict[str, int] = {}  # the largest gpu_peak_bytes each trial reported (CUDA only)
            self.peak_running = 0
            self.limits = None
            self.initial_trials = None

        def _capacity(self):
            self.limits = super()._capacity()
            self.initial_trials = self.limits.trials
            return self.limits

        def _start(self, context, messages, record, threads):
            self.launched[record.id] = time.perf_counter()
            self.threads[record.id] = threads
            super()._start(context, messages, record, threads)
            self.peak_running = max(self.peak_running, len(self._slots))

        def _progress(self, message):
            now = time.perf_counter()
            if message["kind"] == "started":
                self.started_msg[message["trial"]] = now
            elif message["kind"] == "step":
                self.last_step[message["trial"]] = (now, message["elapsed_s"], message["step"])
                if message.get("gpu_peak_bytes") is not None:
                    trial = message["trial"]
                    self.gpu_peak[trial] = max(self.gpu_peak.get(trial, 0), int(message["gpu_peak_bytes"]))
            super()._progress(message)

        def _ended(self, record, status, end, error=""):
            self.ended_at[record.id] = time.perf_counter()
            super()._ended(record, status, end, error)

    return TimedEngine


def run_sweep(label: str, workers: int | None, definition, root: Path, data_dir: Path, chars_per_trial: int) -> dict:
    from tuirnn.sweeps.sweepdir import SweepDir

    engine_class = make_engine_class()
    began = time.perf_counter()
    sweep = SweepDir.create(root / f"sweep-k{label}", definition)
    engine = engine_class(sweep, workers, data_dir)
    engine.run()
    wall = time.perf_counter() - began

    statuses: dict[str, int] = {}
    for record in sweep.trials:
        statuses[record.status] = statuses.get(record.status, 0) + 1
    bad = [rec for rec in sweep.trials if rec.status != "done" or rec.step != definition.base.train.max_steps]
    if bad or len(sweep.trials) != definition.trial_count:
        errors = "; ".join(f"{rec.id}: {rec.status} at step {rec.step} {rec.error}" for rec in bad)
        raise SystemExit(f"sweep K={label}: not every trial completed ({statuses}): {errors}")

    train_s, startup_s, teardown_s, to_started_s, rates, gpu_peaks = [], [], [], [], [], []
    for record in sorted(sweep.trials, key=lambda rec: rec.number):
        gpu_peaks.append(engine.gpu_peak.get(record.id))
        received, elapsed, _ = engine.last_step[record.id]
        loop_began = received - elapsed  # the Trainer's clock starts just before its first step
        train_s.append(elapsed)
        startup_s.append(loop_began - engine.launched[record.id])
        to_started_s.append(engine.started_msg[record.id] - engine.launched[record.id])
        teardown_s.append(engine.ended_at[record.id] - received)
        rate, _ = trial_rate_from_metrics(sweep.trial_path(record) / "metrics.jsonl")
        rates.append(rate)

    k = engine.peak_running
    total_chars = chars_per_trial * len(sweep.trials)
    threads = sorted(set(engine.threads.values()))
    result = {
        "workers": label,
        "k_chosen": engine.limits.trials,
        "k_initial": engine.initial_trials,
        "peak_running": k,
        "threads_per_trial": threads[0] if len(threads) == 1 else threads,
        "trials": len(sweep.trials),
        "statuses": statuses,
        "wall_s": r(wall),
        "chars_per_s": r(total_chars / wall, 1),
        "train_s_sum": r(sum(train_s)),
        "overhead_s": r(wall - sum(train_s) / k),
        "startup_s_median": r(median(startup_s)),
        "startup_s": [r(v) for v in startup_s],
        "to_started_event_s_median": r(median(to_started_s)),
        "teardown_s_median": r(median(teardown_s)),
        "trial_chars_per_s_median": r(median([v for v in rates if v is not None]), 1),
        "trial_chars_per_s": [r(v, 1) for v in rates],
        "gpu_peak_bytes_max": max((v for v in gpu_peaks if v is not None), default=None),
        "gpu_peak_bytes_per_trial": gpu_peaks if any(v is not None for v in gpu_peaks) else None,
    }
    log(f"K={label}: {result['chars_per_s']:.0f} chars/s aggregate in {wall:.1f} s "
        f"({k} at once, {result['threads_per_trial']} thread(s) each; per trial "
        f"{shown(result['trial_chars_per_s_median'])} chars/s; start-up {shown(result['startup_s_median'], '.2f')} s "
        "per trial)")
    return result


# ----------------------------------------------------------------------------------------------------
# the whole study, for the extrapolation

def study_size(corpus_spec: str, data_dir: Path, measured_model) -> dict:
    """What the whole study trains: every trial of the study's sweep presets on `corpus_spec`, each for the
    Trainer's total steps (tuirnn.sweeps.cost.steps_per_trial) x batch x seq_len characters. Also the
    study's parameters per character, averaged over its characters, relative to `measured_model`'s: a rough
    idea of how much more work a char is."""
    from tuirnn.catalog import open_corpus
    from tuirnn.sizing import parameter_count
    from tuirnn.sweeps.cost import steps_per_trial, work_per_step
    from tuirnn.sweeps.definition import sweep_preset

    corpora: dict[tuple, object] = {}
    param_chars = 0.0
    presets: dict[str, dict] = {}
    hidden, layers, epochs, shapes, per_epoch_seen = set(), set(), set(), set(), set()
    for name in STUDY_PRESETS:
        definition = sweep_preset(name).with_base_overrides({"corpus": corpus_spec})
        points = definition.listed_points()
        if definition.strategy != "grid" or len(points) != definition.trial_count:
            raise SystemExit(f"sweep preset {name}: not a fully listed grid; the extrapolation needs every trial")
        steps_sum = chars_sum = 0
        for point in points:
            config = definition.config_for(point)
            m, d, t = config.model, config.data, config.train
            key = (d.corpus, d.newlines_to_spaces, d.encoding_errors)
            if key not in corpora:  # the Trainer's loader (the id cache is warm)
                corpora[key] = open_corpus(d.corpus, data_dir, d.newlines_to_spaces, d.encoding_errors)
            corpus = corpora[key]
            steps = steps_per_trial(config, corpus)
            steps_sum += steps
            chars_sum += steps * t.batch_size * d.seq_len
            param_chars += steps * work_per_step(config, len(corpus.vocab))
            hidden.add(m.hidden_size)
            layers.add(m.layers)
            epochs.add(t.epochs)
            shapes.add(f"{t.batch_size}x{d.seq_len}")
            per_epoch_seen.add(steps // t.epochs if t.epochs and not t.max_steps else None)
        presets[name] = {"trials": len(points), "steps": steps_sum, "chars": chars_sum}

    def one_or_all(values: set):
        return next(iter(values)) if len(values) == 1 else sorted(values, key=str)

    total_chars = sum(p["chars"] for p in presets.values())
    vocab_size = max(len(c.vocab) for c in corpora.values())  # one corpus: one vocabulary
    return {
        "presets": presets,
        "trials": sum(p["trials"] for p in presets.values()),
        "epochs": one_or_all(epochs),
        "batch_x_seq": one_or_all(shapes),
        "steps_per_epoch": one_or_all(per_epoch_seen),
        "total_steps": sum(p["steps"] for p in presets.values()),
        "total_chars": total_chars,
        "hidden_sizes": sorted(hidden),
        "layers": sorted(layers),
        "params_per_char_vs_measured": r(param_chars / total_chars / parameter_count(measured_model, vocab_size), 2),
    }


def study_minutes(study: dict, chars_per_s: float | None) -> float | None:
    return r(study["total_chars"] / chars_per_s / 60, 1) if chars_per_s else None


def extrapolation_note(study: dict, args, trials: int, corpus_name: str) -> str:
    largest = max(study["hidden_sizes"])
    if args.hidden < largest:
        bias = (f"the study's trials with a larger hidden size (up to {largest}) or more layers are slower per char "
                f"than hidden {args.hidden}, so the estimate is optimistic (by parameters, a study char averages "
                f"{study['params_per_char_vs_measured']}x the work of a measured one)")
    else:
        bias = (f"measured at the study's largest hidden size, {largest}; its smaller trials are faster per char, "
                "so the estimate is pessimistic in that respect (by parameters, a study char averages "
                f"{study['params_per_char_vs_measured']}x the work of a measured one)")
    return (f"Extrapolated by characters processed: the whole study ({' + '.join(STUDY_PRESETS)}, "
            f"{study['trials']} trials, {study['epochs']} epochs each at batch x seq {study['batch_x_seq']}, on "
            f"{corpus_name}: {study['total_chars']:,} training chars) / each K's measured aggregate chars/s, which "
            f"was measured on {trials} trials of {args.steps} steps at hidden {args.hidden}, 2 layers. The study's "
            f"trials have hidden {', '.join(map(str, study['hidden_sizes']))} and "
            f"{', '.join(map(str, study['layers']))} layer(s); {bias}. Training only: the presets' periodic "
            "evaluation and samples are not counted. The measured wall time includes every trial's process "
            "start-up, which these short trials pay far more often per char than 60-epoch trials would (pessimistic "
            f"in that respect). K is as measured here, with {trials} trials to run.")


# ----------------------------------------------------------------------------------------------------
# the baseline: the same trials, one after another, in this process

def run_baseline(definition, root: Path, data_dir: Path, threads: int, chars_per_trial: int, device) -> dict:
    import _study
    import torch

    from tuirnn.catalog import open_corpus
    from tuirnn.events import Failed, StepMetrics
    from tuirnn.runs import RunDir
    from tuirnn.training import Trainer

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    points = definition.points()
    train_s, startup_s, teardown_s, rates = [], [], [], []
    try:
        began = time.perf_counter()
        for number, point in enumerate(points):
            t0 = time.perf_counter()
            config = definition.config_for(point)
            d = config.data
            corpus = open_corpus(d.corpus, data_dir, d.newlines_to_spaces, d.encoding_errors)
            run_path = root / "baseline" / f"t{number:03d}"
            run = RunDir.create(run_path, config, corpus.vocab, {"corpus": corpus.name, "corpus_sha256": corpus.sha256})
            trainer = Trainer(config, corpus, run)
            last: list[tuple[float, StepMetrics]] = []

            def listen(event, into=last) -> None:
                if isinstance(event, StepMetrics):
                    into.append((time.perf_counter(), event))

            trainer.subscribe(listen)
            outcome = trainer.run()
            t1 = time.perf_counter()
            if isinstance(outcome, Failed) or outcome.step != config.train.max_steps:
                raise SystemExit(f"baseline trial {number} did not complete: {outcome}")
            received, metrics = last[-1]
            train_s.append(metrics.elapsed_s)
            startup_s.append(received - metrics.elapsed_s - t0)
            teardown_s.append(t1 - received)
            rates.append(trial_rate_from_metrics(run_path / "metrics.jsonl")[0])
        _study.sync(device)
        wall = time.perf_counter() - began
    finally:
        torch.set_num_threads(previous_threads)
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the engine's auto K reads the GPU's free memory

    total_chars = chars_per_trial * len(points)
    result = {
        "threads": threads,
        "trials": len(points),
        "wall_s": r(wall),
        "chars_per_s": r(total_chars / wall, 1),
        "train_s_sum": r(sum(train_s)),
        "overhead_s": r(wall - sum(train_s)),
        "startup_s_median": r(median(startup_s)),
        "startup_s": [r(v) for v in startup_s],
        "teardown_s_median": r(median(teardown_s)),
        "trial_chars_per_s_median": r(median([v for v in rates if v is not None]), 1),
        "trial_chars_per_s": [r(v, 1) for v in rates],
    }
    log(f"baseline (sequential, in process, {threads} thread(s)): {result['chars_per_s']:.0f} chars/s in {wall:.1f} s "
        f"(per trial {shown(result['trial_chars_per_s_median'])} chars/s; "
        f"set-up {shown(result['startup_s_median'], '.2f')} s per trial)")
    return result


# ----------------------------------------------------------------------------------------------------

def parse_workers(text: str) -> list[str]:
    labels = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part != "auto" and (not part.isdigit() or int(part) < 1):
            raise ValueError(f"{part!r} is not a positive whole number or 'auto'")
        labels.append(part if part == "auto" else str(int(part)))
    if not labels:
        raise ValueError("no worker counts given")
    return list(dict.fromkeys(labels))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="",
                        help=f"comma-separated trials at once, 'auto' = the engine's choice "
                             f"(default: {CPU_WORKERS} on a CPU, {GPU_WORKERS} on a GPU)")
    parser.add_argument("--steps", type=int, default=0,
                        help=f"optimizer steps per trial (default: {CPU_STEPS} on a CPU, {GPU_STEPS} on a GPU)")
    parser.add_argument("--hidden", type=int, default=0,
                        help=f"LSTM hidden size (default: {CPU_HIDDEN} on a CPU, {GPU_HIDDEN}, the study's, on a GPU)")
    parser.add_argument("--trials", type=int, default=0,
                        help="trials per sweep, the dropout axis's length (default: the largest K, auto's included)")
    parser.add_argument("--log-every", type=int, default=10,
                        help="the trials' log_every (a metrics row and a host sync)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS),
                        help="text file (default: the study's Nietzsche; Python's docs, 'default', if it is missing)")
    args = parser.parse_args(argv)

    import _study
    import torch

    from tuirnn.config import ConfigError
    from tuirnn.devices import pick_device
    from tuirnn.sweeps import capacity
    from tuirnn.sweeps.validation import check_sweep

    try:
        device = pick_device(args.device)
    except ConfigError as exc:
        parser.error(str(exc))
    gpu = device.type != "cpu"
    try:
        labels = parse_workers(args.workers or (GPU_WORKERS if gpu else CPU_WORKERS))
    except ValueError as exc:
        parser.error(f"--workers: {exc}")
    args.steps = args.steps or (GPU_STEPS if gpu else CPU_STEPS)
    args.hidden = args.hidden or (GPU_HIDDEN if gpu else CPU_HIDDEN)
    if args.steps < 1 or args.hidden < 1 or args.trials < 0 or args.log_every < 1:
        parser.error("--steps, --hidden and --log-every must be at least 1, --trials at least 0")
    corpus_spec = args.corpus
    if not Path(corpus_spec).expanduser().is_file() and corpus_spec != "default":
        log(f"note: {corpus_spec} not found; using the built-in 'default' corpus")
        corpus_spec = "default"
    elif corpus_spec != "default":
        corpus_spec = str(Path(corpus_spec).expanduser().resolve())

    numbers = [int(label) for label in labels if label != "auto"]
    auto_k_cpu = None
    if "auto" in labels and device.type == "cpu":
        auto_k_cpu = auto_workers_cpu(build_sweep(args, device.type, corpus_spec, 1))
        numbers.append(auto_k_cpu)
    trials = args.trials or max(numbers or [1])
    if "auto" in labels and device.type == "cuda" and not args.trials:
        log("note: on a GPU, auto's K is decided once the first trial reports its memory; it can run at most "
            f"{trials} at once here (--trials to raise)")
    definition = build_sweep(args, device.type, corpus_spec, trials)
    check = check_sweep(definition)
    check.raise_errors()
    chars_per_trial = args.steps * CHARS_PER_STEP
    cores = capacity.cpu_cores()
    single_threads = capacity.cpu_slots(trials, capacity.largest_trial_bytes(definition), 1).threads

    with tempfile.TemporaryDirectory(prefix="tuirnn-bench-sweep-") as scratch:
        root = Path(scratch)
        data_dir = root / "data"
        from tuirnn.catalog import open_corpus

        d = definition.base.data
        corpus = open_corpus(d.corpus, data_dir, d.newlines_to_spaces, d.encoding_errors)  # fills the id cache
        study = study_size(corpus_spec, data_dir, definition.base.model)
        log(f"the whole study: {study['trials']} trials, {study['total_steps']:,} steps, "
            f"{study['total_chars']:,} chars")
        log(f"{trials} trials of {args.steps} steps (hidden {args.hidden}, {chars_per_trial:,} chars each) on "
            f"{_study.device_name(device)}, {cores} core(s); K = {', '.join(labels)}")

        baseline = run_baseline(definition, root, data_dir, single_threads, chars_per_trial, device)
        baseline["study_minutes_extrapolated"] = study_minutes(study, baseline["chars_per_s"])
        results: dict[str, dict] = {}
        for label in labels:
            results[label] = run_sweep(label, None if label == "auto" else int(label), definition, root, data_dir,
                                       chars_per_trial)
            results[label]["ratio"] = ratio(results[label]["chars_per_s"], baseline["chars_per_s"])
            results[label]["trial_ratio"] = ratio(results[label]["trial_chars_per_s_median"],
                                                  baseline["trial_chars_per_s_median"])
            results[label]["study_minutes_extrapolated"] = study_minutes(study, results[label]["chars_per_s"])
            log(f"K={label}: the whole study would take about {results[label]['study_minutes_extrapolated']} min")

    best = max(results.values(), key=lambda res: res["chars_per_s"])
    corpus_name = Path(corpus_spec).name if corpus_spec != "default" else "default"
    gpu_peaks = [res["gpu_peak_bytes_max"] for res in results.values() if res["gpu_peak_bytes_max"] is not None]
    output = {
        "benchmark": "sweep_throughput",
        "device": _study.device_name(device),
        "torch": torch.__version__,
        "cpu_cores": cores,
        "config": {
            "corpus": corpus_name, "chars": len(corpus),
            "vocab": len(corpus.vocab), "base": "study-rnn2", "cell": definition.base.model.cell,
            "layers": definition.base.model.layers, "embedding": definition.base.model.embedding_size,
            "hidden": args.hidden, "seq_len": SEQ_LEN, "batch": BATCH, "lr": definition.base.train.lr,
            "steps": args.steps, "log_every": args.log_every, "seed": args.seed,
            "axis": {"dropout": list(definition.axes[0].values)},
        },
        "workers": labels,
        "trials": trials,
        "chars_per_step": CHARS_PER_STEP,
        "chars_per_trial": chars_per_trial,
        "total_chars": chars_per_trial * trials,
        "auto_k": results["auto"]["k_chosen"] if "auto" in results else None,
        "baseline": baseline,
        "results": results,
        "ratios": {label: res["ratio"] for label, res in results.items()},
        "best": {"workers": best["workers"], "chars_per_s": best["chars_per_s"], "ratio": best["ratio"],
                 "study_minutes_extrapolated": best["study_minutes_extrapolated"]},
        "gpu_peak_bytes_per_trial_max": max(gpu_peaks, default=None),
        "study": study,
        "study_minutes_extrapolated": {label: res["study_minutes_extrapolated"] for label, res in results.items()},
        "baseline_study_minutes_extrapolated": baseline["study_minutes_extrapolated"],
        "extrapolation_note": extrapolation_note(study, args, trials, corpus_name),
    }
    if auto_k_cpu is not None and "auto" in results and results["auto"]["k_chosen"] != auto_k_cpu:
        output["auto_k_note"] = f"predicted {auto_k_cpu} before the run"
    _study.print_json(output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
