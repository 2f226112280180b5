"""Training throughput inside the running app against the same run headless, in one process.

The app is driven by keys through Textual's headless test driver (it lays out and renders every update,
only the bytes are not sent to a terminal). Runs alternate (headless, app, headless, app, ...) so drift
in machine load hits both sides; the figure is the median of steady-state chars/s over each run's
metric intervals, skipping the first interval (warm-up). Prints one JSON object.

    python bench/app_throughput.py [--steps 300] [--repeats 2] [--hidden 128] [--device auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from tuirnn.catalog import open_corpus
from tuirnn.config import RunConfig, preset, with_overrides
from tuirnn.events import StepMetrics
from tuirnn.training import Trainer
from tuirnn.tui.app import TuirnnApp

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "nietzsche.txt"


def bench_config(args: argparse.Namespace) -> RunConfig:
    corpus = str(CORPUS) if CORPUS.exists() else "default"
    return with_overrides(preset("default"), {
        "corpus": corpus, "hidden_size": args.hidden, "layers": 2, "seq_len": 64, "batch_size": 32,
        "max_steps": args.steps, "log_every": 5, "eval_every": 0, "sample_every": 100, "device": args.device,
    })


def steady(rates: list[float]) -> float:
    return statistics.median(rates[1:] if len(rates) > 2 else rates)


def run_headless(config: RunConfig, data_dir: Path) -> float:
    d = config.data
    corpus = open_corpus(d.corpus, data_dir, d.newlines_to_spaces, d.encoding_errors)
    rates: list[float] = []
    trainer = Trainer(config, corpus)
    trainer.subscribe(lambda e: rates.append(e.chars_per_s) if isinstance(e, StepMetrics) else None)
    trainer.run()
    return steady(rates)


async def run_in_app(config: RunConfig, workdir: Path) -> float:
    app = TuirnnApp(workdir / "models", workdir / "data", config=config, preload_torch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        deadline = time.monotonic() + 1800
        while app.feed.status in ("starting", "training") and time.monotonic() < deadline:
            await pilot.pause(0.2)
        if not app.feed.steps or app.feed.steps[-1] != config.train.max_steps:
            raise RuntimeError(f"the app's run did not finish: {app.feed.status} {app.feed.message}")
        return steady(app.feed.speeds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    config = bench_config(args)
    headless, in_app = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for _ in range(args.repeats):
            headless.append(run_headless(config, work / "data"))
            in_app.append(asyncio.run(run_in_app(config, work)))
    result = {
        "benchmark": "app_throughput",
        "device": config.train.device,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "config": {"cell": "lstm", "layers": 2, "hidden": args.hidden, "batch": 32, "seq": 64, "steps": args.steps},
        "headless_chars_per_s": [round(r) for r in headless],
        "app_chars_per_s": [round(r) for r in in_app],
        "ratio": round(statistics.median(in_app) / statistics.median(headless), 4),
        "target_ratio": 0.95,
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
