"""Training throughput inside the running app against the same run headless (`tuirnn train`).

Each run is a fresh process, so neither side inherits the other's thread pools or caches: the headless
side is the real `tuirnn train` command; the app side starts the real app through Textual's headless
driver (it lays out and renders every update; only the bytes are not sent to a terminal), presses `s`
and waits for the run to finish. Both write the same run directory, and both figures come from the
chars/s of its metrics.jsonl: the median over the logged intervals, skipping the first (warm-up).
Runs alternate (headless, app, headless, app, ...) so drift in machine load hits both sides.
Prints one JSON object.

    python bench/app_throughput.py [--steps 300] [--repeats 3] [--hidden 128] [--device auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "nietzsche.txt"


def write_config(args: argparse.Namespace, path: Path) -> None:
    from tuirnn.config import preset, save_toml, with_overrides

    corpus = str(CORPUS) if CORPUS.exists() else "default"
    save_toml(with_overrides(preset("default"), {
        "corpus": corpus, "hidden_size": args.hidden, "layers": 2, "seq_len": 64, "batch_size": 32,
        "max_steps": args.steps, "log_every": 5, "eval_every": 0, "sample_every": 100, "device": args.device,
    }), path)


def steady_rate(models_dir: Path) -> float:
    (metrics,) = models_dir.glob("*/metrics.jsonl")
    rates = [r["chars_per_s"] for r in map(json.loads, metrics.read_text().splitlines()) if "chars_per_s" in r]
    return statistics.median(rates[1:] if len(rates) > 2 else rates)


def run_headless(config: Path, workdir: Path) -> float:
    models = workdir / "models"
    subprocess.run([sys.executable, "-m", "tuirnn", "--models-dir", str(models), "--data-dir", str(workdir / "data"),
                    "train", "--config", str(config)], check=True, capture_output=True)
    return steady_rate(models)


def run_app(config: Path, workdir: Path) -> float:
    models = workdir / "models"
    subprocess.run([sys.executable, __file__, "--app-child", str(config), str(workdir)], check=True)
    return steady_rate(models)


async def app_child(config_path: Path, workdir: Path) -> None:
    from tuirnn.config import load_toml
    from tuirnn.tui.app import TuirnnApp

    config = load_toml(config_path)
    app = TuirnnApp(workdir / "models", workdir / "data", config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        deadline = time.monotonic() + 1800
        while app.feed.status in ("idle", "starting", "training") and time.monotonic() < deadline:
            await pilot.pause(0.2)
        if app.feed.status != "completed":
            raise SystemExit(f"the app's run did not finish: {app.feed.status} {app.feed.message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--app-child", nargs=2, metavar=("CONFIG", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.app_child:
        asyncio.run(app_child(Path(args.app_child[0]), Path(args.app_child[1])))
        return
    headless, in_app = [], []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        write_config(args, config)
        for repeat in range(args.repeats):
            headless.append(run_headless(config, Path(tmp) / f"headless-{repeat}"))
            in_app.append(run_app(config, Path(tmp) / f"app-{repeat}"))
    import torch

    result = {
        "benchmark": "app_throughput",
        "device": args.device,
        "torch": torch.__version__,
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
