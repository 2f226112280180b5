"""Time to the app's first frame in a real terminal (tmux, 80x24, TERM=xterm-256color).

Baseline in the same run: a bare Textual app with a Header and a Footer, started the same way, which is
the floor the framework itself sets. A frame counts as shown once the footer's key hints are on screen.
Runs alternate between the two. Prints one JSON object.

    python bench/first_frame.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    BINDINGS = [("q", "quit", "Quit")]
    def compose(self):
        yield Header()
        yield Static("baseline")
        yield Footer()

Bare().run()
"""
SESSION = "tuirnn-first-frame"


def time_to_frame(command: str, marker: str, workdir: Path, timeout_s: float = 30.0) -> float:
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    started = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", "-c", str(workdir),
                    "-e", "TERM=xterm-256color", command], check=True)
    try:
        while time.perf_counter() - started < timeout_s:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION], capture_output=True,
                                    text=True).stdout
            if marker in screen:
                return time.perf_counter() - started
            time.sleep(0.01)
        raise RuntimeError(f"no frame within {timeout_s}s for: {command}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("first_frame.py needs tmux")
    ours, baseline = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "bare.py").write_text(BASELINE_APP)
        python = sys.executable
        for _ in range(args.repeats):
            baseline.append(time_to_frame(f"{python} bare.py", "Quit", work))
            ours.append(time_to_frame(f"{python} -m tuirnn", "Pause/resume", work))
    result = {
        "benchmark": "first_frame",
        "terminal": "tmux 80x24 TERM=xterm-256color",
        "tuirnn_s": [round(t, 3) for t in ours],
        "baseline_bare_textual_s": [round(t, 3) for t in baseline],
        "tuirnn_median_s": round(statistics.median(ours), 3),
        "baseline_median_s": round(statistics.median(baseline), 3),
        "ratio": round(statistics.median(ours) / statistics.median(baseline), 3),
        "target_s": 1.0,
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
