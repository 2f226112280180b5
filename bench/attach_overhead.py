"""What an attached dashboard costs the run it follows: training speed alone vs. while followed.

    python bench/attach_overhead.py                  # LSTM 2x256, 240 steps per run, 2 pairs
    python bench/attach_overhead.py --steps 60 --pairs 1   # a quick look

Each run is a real `tuirnn train` process on the same corpus and settings (its heartbeat and control
thread always on, as in every run). "alone": nobody reads its files. "followed": this process follows it
as the app's Train screen does when attached: a `RunFollower` poll (metrics, samples, heartbeat, lock)
every POLL_S, the app's own rate. Runs go alone, followed, followed, alone, ... so drift cancels. Speed
is the median of the chars/s the trainer logged, after its first quarter (start-up and warm-up).
Prints one JSON object: medians, the ratio followed/alone and the overhead in percent (target < 2).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuirnn.catalog import open_corpus
from tuirnn.run_follow import RunFollower
from tuirnn.runs import RunDir
from tuirnn.tui.attachment import POLL_S

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "nietzsche.txt"


def train(corpus: Path, workdir: Path, name: str, steps: int, hidden: int, followed: bool) -> float:
    """Train one run in its own process; the median logged chars/s after the first quarter."""
    run = workdir / name
    command = [sys.executable, "-m", "tuirnn", "--data-dir", str(workdir / "data"), "train", "--corpus", str(corpus),
               "--hidden", str(hidden), "--max-steps", str(steps), "--log-every", "5", "--eval-every", "0",
               "--sample-every", "0", "--device", "cpu", "--out", str(run)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    polls = 0
    follower: RunFollower | None = None
    while process.poll() is None:
        time.sleep(POLL_S)
        if followed and (run / "config.json").exists():
            follower = follower or RunFollower(run)
            follower.poll()
            polls += 1
    if process.returncode != 0:
        raise SystemExit(f"training {name} failed with exit code {process.returncode}")
    speeds = [float(r["chars_per_s"]) for r in RunDir.open(run).metrics() if "chars_per_s" in r]
    if followed and not polls:
        raise SystemExit("the follower never polled: the run was too short")
    return statistics.median(speeds[len(speeds) // 4:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=240, help="steps per run (default: 240)")
    parser.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (default: 256)")
    parser.add_argument("--pairs", type=int, default=2, help="alone/followed pairs (default: 2)")
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS, help=f"a text file (default: {SHARED_CORPUS})")
    args = parser.parse_args()
    corpus = args.corpus
    open_corpus(str(corpus), Path(tempfile.gettempdir()) / "tuirnn-bench-data")  # fails early if unreadable
    alone: list[float] = []
    followed: list[float] = []
    with tempfile.TemporaryDirectory(prefix="tuirnn-attach-") as folder:
        workdir = Path(folder)
        for pair in range(args.pairs):
            order = (False, True) if pair % 2 == 0 else (True, False)
            for is_followed in order:
                name = f"{'followed' if is_followed else 'alone'}-{pair}"
                speed = train(corpus, workdir, name, args.steps, args.hidden, is_followed)
                (followed if is_followed else alone).append(speed)
                print(f"{name}: {speed:,.0f} chars/s", file=sys.stderr)
    ratio = statistics.median(followed) / statistics.median(alone)
    print(json.dumps({
        "benchmark": "attach_overhead", "machine": platform.machine(), "cpus": os.cpu_count(),
        "model": f"lstm 2x{args.hidden}", "steps_per_run": args.steps, "poll_s": POLL_S,
        "alone_chars_per_s": alone, "followed_chars_per_s": followed,
        "ratio_followed_to_alone": round(ratio, 4), "overhead_pct": round((1 - ratio) * 100, 2),
        "target_overhead_pct": 2.0,
    }, indent=1))


if __name__ == "__main__":
    main()
