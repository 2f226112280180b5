"""How close a sweep's time estimate comes to the sweep's real run, on this machine.

    python bench/sweep_estimate.py                      # two small grids on Nietzsche, 2 trials at once
    python bench/sweep_estimate.py --steps 100          # quicker

For each grid, in this order: the estimate exactly as `tuirnn sweep --dry-run` and the Sweep screen make it
(`calibrate` times the cheapest and dearest trial and a process start, `estimate_cost` prices every
trial), then the sweep itself, run by `tuirnn sweep` in a child process and timed from start to exit
(its own start-up included, as a person waits for it). Prints one JSON object with each grid's
estimate, real time and their ratio (the target: within a factor of 1.5 either way).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tuirnn.config import with_overrides
from tuirnn.sweeps import capacity
from tuirnn.sweeps.cost import calibrate, corpus_loader, estimate_cost
from tuirnn.sweeps.definition import load_sweep

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "nietzsche.txt"
GRIDS = {
    "small-lstm": "[model]\ncell = \"lstm\"\nlayers = 1\nembedding_size = 16\n[axes]\nhidden_size = [32, 96]\n"
                  "dropout = [0.0, 0.2]\n",
    "two-sizes-gru": "[model]\ncell = \"gru\"\nlayers = 2\n[axes]\nhidden_size = [64, 192]\n",
}


def sweep_file(folder: Path, name: str, axes: str, steps: int) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f"[sweep]\nname = \"{name}\"\nstrategy = \"grid\"\nmetric = \"val_loss\"\n[data]\nseq_len = 50\n"
                    f"[train]\nmax_steps = {steps}\neval_every = {max(1, steps // 3)}\n"
                    f"sample_every = {max(1, steps // 3)}\nbatch_size = 32\ndevice = \"cpu\"\ntime_budget = 0\n"
                    + axes, encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps per trial (default: 300)")
    parser.add_argument("--workers", type=int, default=2, help="trials at once (default: 2)")
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS, help=f"a text file (default: {SHARED_CORPUS})")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="tuirnn-estimate-") as folder:
        work = Path(folder)
        load = corpus_loader(work / "data")
        for name, axes in GRIDS.items():
            path = sweep_file(work, name, axes, args.steps)
            definition = load_sweep(path)
            definition.base = with_overrides(definition.base, {"corpus": str(args.corpus)})
            slots = capacity.cpu_slots(definition.trial_count, capacity.largest_trial_bytes(definition), args.workers)
            timing = calibrate(definition, load, threads=slots.threads)
            estimate = estimate_cost(definition, load, slots.trials, timing).seconds or 0.0
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tuirnn", "--models-dir", str(work / "models"), "--data-dir",
                            str(work / "data"), "sweep", str(path), "--corpus", str(args.corpus), "--workers",
                            str(args.workers)], check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            real = time.perf_counter() - began
            results[name] = {"trials": definition.trial_count, "workers": slots.trials,
                             "threads_per_trial": slots.threads, "estimate_s": round(estimate, 1),
                             "real_s": round(real, 1), "real_over_estimate": round(real / estimate, 2)}
            print(f"{name}: estimate {estimate:.1f} s, real {real:.1f} s", file=sys.stderr)
    print(json.dumps({"benchmark": "sweep_estimate", "cpus": os.cpu_count(), "steps_per_trial": args.steps,
                      "grids": results, "target": "real_over_estimate between 0.67 and 1.5"}, indent=1))


if __name__ == "__main__":
    main()
