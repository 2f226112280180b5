"""`tuirnn generate` never loses its text: it streams into a pipe as it draws, Ctrl-C keeps what was drawn
(printed and saved), and a saved generation's record makes the same text again."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, tiny_config, train_run, write_text

from tuirnn.catalog import open_corpus
from tuirnn.cli import main
from tuirnn.runs import RunDir


@pytest.fixture
def run(tmp_path: Path) -> RunDir:
    corpus_file = write_text(tmp_path / "text.txt", 20_000)
    return train_run(tmp_path / "models" / "run", tiny_config(corpus_file), open_corpus(str(corpus_file)))


def test_a_pipe_sees_the_text_as_it_is_drawn_and_ctrl_c_keeps_it(run: RunDir, tmp_path: Path) -> None:
    output = tmp_path / "out" / "story.txt"
    child = subprocess.Popen(
        [sys.executable, "-m", "tuirnn", "generate", str(run.path), "--prompt", "The ", "--length", "5000000",
         "--seed", "3", "--output", str(output)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"},
        bufsize=0)  # unbuffered: what is read here is exactly what communicate() does not read again
    try:
        assert child.stdout is not None
        first = b""
        while len(first) < 200:  # arrives long before the 5,000,000 characters are done
            chunk = child.stdout.read(200 - len(first))
            assert chunk, "the generator ended before it had written 200 characters"
            first += chunk
        assert first.startswith(b"The ") and child.poll() is None
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        rest, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 1
    text = (first + rest).decode("utf-8")
    [line] = err.decode().splitlines()
    assert line.startswith("tuirnn: interrupted after ") and "seed 3" in line and str(output) in line
    drawn = int(line.removeprefix("tuirnn: interrupted after ").split(" ")[0].replace(",", ""))
    assert text == output.read_text(encoding="utf-8") + "\n"
    assert len(text) == len("The ") + drawn + 1 and drawn >= len(first) - len("The ")
    record = json.loads(output.with_name("story.txt.json").read_text(encoding="utf-8"))
    assert record["origin"]["step"] == 12 and record["origin"]["checkpoint"] == "best.safetensors"
    [segment] = record["segments"]
    assert segment["settings"]["seed"] == 3 and segment["settings"]["length"] == drawn
    assert segment["prompt"] + segment["text"] == text.removesuffix("\n")


def test_the_record_draws_the_same_text_again(run: RunDir, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "story.txt"
    assert main(["generate", str(run.path), "--prompt", "Be", "--length", "80", "--temperature", "0.7",
                 "--top-k", "5", "--output", str(output)]) == 0
    first = capsys.readouterr()
    record = json.loads(output.with_name("story.txt.json").read_text(encoding="utf-8"))
    [command] = record["reproduce"]
    assert "--seed" in command and "--top-k 5" in command
    assert main(shlex.split(command)[1:]) == 0
    assert capsys.readouterr().out == first.out == output.read_text(encoding="utf-8") + "\n"


def test_the_app_saves_a_continued_generation_with_every_segment(run: RunDir, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from tuirnn.tui.app import TuirnnApp
    from tuirnn.tui.screens.generate import GenerateScreen

    app = TuirnnApp(run.path.parent, tmp_path / "data", preload_torch=False)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            screen = app.screen
            assert isinstance(screen, GenerateScreen)
            await pilot.press("i", "T", "h", "e", "space", "enter")
            await wait(pilot, lambda: len(screen.generated) == screen.settings.length)
            first = screen.text()
            await pilot.press("c")
            await wait(pilot, lambda: screen.prompt_used == first and len(screen.generated) == screen.settings.length)
            await pilot.press("ctrl+s")
            await pilot.pause()

    async def wait(pilot: object, condition: object) -> None:
        deadline = time.monotonic() + 30
        while not condition():  # type: ignore[operator]
            assert time.monotonic() < deadline, "generation did not finish"
            await pilot.pause(0.05)  # type: ignore[attr-defined]

    asyncio.run(scenario())
    [saved] = (run.path / "generated").glob("*.txt")
    record = json.loads(saved.with_name(saved.name + ".json").read_text(encoding="utf-8"))
    first, second = record["segments"]
    assert first["prompt"] == "The " and second["prompt"] == first["prompt"] + first["text"]
    assert second["prompt"] + second["text"] == saved.read_text(encoding="utf-8")
    assert record["origin"] == {"run": str(run.path), "checkpoint": "best.safetensors", "step": 12}
    for command, segment in zip(record["reproduce"], record["segments"], strict=True):  # each draws again alike
        assert main(shlex.split(command)[1:]) == 0
        assert capsys.readouterr().out == segment["prompt"] + segment["text"] + "\n"


def test_best_without_a_best_checkpoint_says_it_uses_latest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus_file = write_text(tmp_path / "text.txt", 20_000)
    run = train_run(tmp_path / "models" / "run", tiny_config(corpus_file), open_corpus(str(corpus_file)))
    assert main(["generate", str(run.path), "--length", "5", "--seed", "1"]) == 0
    assert "no best checkpoint" not in capsys.readouterr().err
    run.best_path.unlink()  # as a run that never validated has none
    assert main(["generate", str(run.path), "--length", "5", "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert "has no best checkpoint yet (it has not validated): generating from its latest, step 12" in err
