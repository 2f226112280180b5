"""The Runs screen and the log tail behind it, on fake runs written by hand (no training, no torch in the UI)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tui_helpers import make_app, wait_for

from tuirnn.config import RunConfig, set_field
from tuirnn.corpus import Vocabulary
from tuirnn.jsonl_tail import JsonlTail
from tuirnn.runs import METRICS_FILE, TRIALS_DIR, RunDir, list_runs
from tuirnn.sweeps.definition import sweep_preset
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.screens.confirm import ConfirmScreen
from tuirnn.tui.screens.runs import RunsScreen, RunTable, _date
from tuirnn.tui.widgets.loss_chart import LossChart
from tuirnn.tui.widgets.run_tail import MetricsTail, RunTail

MTIME = 1_717_243_200.0  # 2024-06-01 12:00 UTC


def make_run(models: Path, name: str, *, corpus: str = "tinyshakespeare", cell: str = "lstm", hidden: int = 256,
             steps: int = 600, status: str = "finished", age_s: float = 0.0, scale: float = 1.0) -> Path:
    """A run directory as training leaves it, written by hand: deterministic curves, samples and mtimes."""
    config = RunConfig()
    set_field(config, "cell", cell)
    set_field(config, "hidden_size", hidden)
    run = RunDir.create(models / name, config, Vocabulary(tuple("abc ")), {"corpus": corpus})
    best = None
    for step in range(10, steps + 1, 10):
        loss = scale * (1.3 + 2.9 * math.exp(-step / 150))
        run.append_metrics({"step": step, "epoch": step / 1000, "loss": loss, "last_loss": loss, "lr": 0.002,
                            "grad_norm": 1.0, "chars_per_s": 5000.0, "time": MTIME})
        if step % 100 == 0:
            val = loss + 0.05
            best = val if best is None else min(best, val)
            run.append_metrics({"step": step, "val_loss": val, "val_bpc": val / math.log(2), "time": MTIME})
        if step % 200 == 0:
            run.append_sample({"step": step, "prompt": "The ", "seed": 0, "text": f"sample at {step}\nline", "time": 0})
    run.update_info(status=status, step=steps, best_val_loss=best,
                    best_val_bpc=None if best is None else best / math.log(2))
    stamp = MTIME - age_s
    for path in run.path.iterdir():
        os.utime(path, (stamp, stamp))
    return run.path


@pytest.fixture
def stable_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dates in UTC and the full-colour theme whatever the terminal running the tests, so snapshots match."""
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLORTERM", "truecolor")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def models(tmp_path: Path, stable_env: None) -> Iterator[Path]:
    """Three runs; the one marked running has its lock held, as the process training it would."""
    models = tmp_path / "models"
    make_run(models, "shakespeare-lstm2x256", steps=600, age_s=0)
    make_run(models, "nietzsche-gru2x128", corpus="nietzsche", cell="gru", hidden=128, steps=400,
             status="stopped", age_s=3600, scale=1.1)
    running = RunDir.open(make_run(models, "default-lstm2x256", corpus="default", steps=40, status="running",
                                   age_s=7200))
    running.claim()
    yield models
    running.release()


def curve_labels(app: TuirnnApp) -> list[str]:
    return [curve.label for curve in app.screen.query_one(LossChart)._curves]


def test_lists_runs_and_shows_the_highlighted_one(tmp_path: Path, models: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4")
            screen = app.screen
            assert isinstance(screen, RunsScreen)
            table = screen.query_one(RunTable)
            assert table.has_focus
            assert [row.key.value for row in table.ordered_rows] == [
                str(models / name) for name in ("shakespeare-lstm2x256", "nietzsche-gru2x128", "default-lstm2x256")
            ]
            assert [str(cell) for cell in table.get_row_at(1)] == [
                "", "nietzsche-gru2x128", "gru 2x128", "400", "1.702", "stopped", "2024-06-01", "nietzsche", "2.455"]
            await pilot.press("down", "enter")
            await pilot.pause()
            chart = screen.query_one(LossChart)
            assert chart.border_title == "nietzsche-gru2x128"
            train, val = chart._curves
            assert (len(train.steps), len(val.steps), val.steps[-1]) == (40, 4, 400)
            samples = str(screen.query_one("#runs-samples-text").render())
            assert samples.index("step 400") < samples.index("step 200")
            assert screen.query_one("#runs-samples").has_focus
            await pilot.press("escape")
            assert table.has_focus

    asyncio.run(scenario())


def test_empty_models_dir_explains_what_to_do(tmp_path: Path, stable_env: None) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=tmp_path / "models")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4", "delete", "g")
            assert app.current_mode == "runs"
            assert "No runs in" in str(app.screen.query_one("#runs-empty").render())
            assert not app.screen.query_one(RunTable).display
            make_run(tmp_path / "models", "late-run")
            await wait_for(pilot, lambda: app.screen.query_one(RunTable).row_count == 1)  # the list follows the disk
            assert app.screen.query_one(RunTable).display

    asyncio.run(scenario())


def test_delete_asks_first_and_removes_only_on_yes(tmp_path: Path, models: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4", "down", "delete")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert (models / "nietzsche-gru2x128").is_dir()
            await pilot.press("backspace")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await pilot.pause()
            assert not (models / "nietzsche-gru2x128").exists()
            table = app.screen.query_one(RunTable)
            assert table.row_count == 2
            assert str(models / "nietzsche-gru2x128") not in [row.key.value for row in table.ordered_rows]

    asyncio.run(scenario())


def test_follows_a_run_written_by_another_process(tmp_path: Path, models: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        key = str(models / "default-lstm2x256")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4")
            table = app.screen.query_one(RunTable)
            assert str(table.get_cell(key, "steps")) == "40"
            run = RunDir.open(models / "default-lstm2x256")
            for step in (50, 60, 70):
                run.append_metrics({"step": step, "loss": 1.5, "time": 0})
            run.append_metrics({"step": 70, "val_loss": 1.25, "val_bpc": 1.8, "time": 0})
            with open(run.path / METRICS_FILE, "a", encoding="utf-8") as handle:
                handle.write('{"step": 80, "lo')  # torn: the writer is mid-line
            await pilot.pause(1.5)
            assert str(table.get_cell(key, "steps")) == "70"  # the row of a running run follows it unopened
            assert str(table.get_cell(key, "loss")) == "1.250"
            await pilot.press("down", "down")
            train, val = app.screen.query_one(LossChart)._curves
            assert (train.steps[-1], val.steps) == (70, [70])
            with open(run.path / METRICS_FILE, "a", encoding="utf-8") as handle:
                handle.write('ss": 1.4, "time": 0}\n')
            run.update_info(status="finished")
            await pilot.pause(1.5)
            assert str(table.get_cell(key, "steps")) == "80"
            assert str(table.get_cell(key, "status")) == "finished"

    asyncio.run(scenario())


def test_a_new_run_appears_without_refreshing(tmp_path: Path, models: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4")
            os.utime(models, (MTIME, MTIME))  # a directory's mtime can be coarse: make the change visible
            await pilot.pause(0.1)
            make_run(models, "headless-run")
            await pilot.pause(1.5)
            assert app.screen.query_one(RunTable).row_count == 4

    asyncio.run(scenario())


def test_compare_overlays_the_marked_run(tmp_path: Path, models: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4", "m")
            table = app.screen.query_one(RunTable)
            assert str(table.get_cell(str(models / "shakespeare-lstm2x256"), "mark")) == "◆"
            assert curve_labels(app) == ["train", "val"]
            await pilot.press("down")
            assert curve_labels(app) == ["train", "val", "◆ train", "◆ val"]
            curves = app.screen.query_one(LossChart)._curves
            assert len({curve.color for curve in curves}) == 4
            assert curves[2].steps[-1] == 600 and curves[0].steps[-1] == 400
            await pilot.press("up", "space")
            assert str(table.get_cell(str(models / "shakespeare-lstm2x256"), "mark")) == ""
            await pilot.press("down")
            assert curve_labels(app) == ["train", "val"]

    asyncio.run(scenario())


def test_generate_opens_the_run_on_the_generate_screen(tmp_path: Path, models: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        opened: list[Path] = []
        original = app.open_in_generate

        def recording(path: Path) -> None:
            opened.append(path)
            original(path)

        app.open_in_generate = recording  # type: ignore[method-assign]
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("4", "down", "g")
            await pilot.pause()
            assert opened == [models / "nietzsche-gru2x128"]
            assert app.current_mode == "generate"

    asyncio.run(scenario())


def test_resume_refuses_a_run_trained_elsewhere_and_takes_an_interrupted_one(tmp_path: Path, models: Path) -> None:
    make_run(models, "killed-run", steps=30, status="running", age_s=9000)  # marked running, but no lock held

    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        resumed: list[Path] = []
        app.resume_run = resumed.append  # type: ignore[method-assign,assignment]
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("4", "r")
            assert resumed == [models / "shakespeare-lstm2x256"]
            table = app.screen.query_one(RunTable)
            assert str(table.get_cell(str(models / "default-lstm2x256"), "status")) == "running"
            assert str(table.get_cell(str(models / "killed-run"), "status")) == "interrupted"
            await pilot.press("down", "down", "r")
            await pilot.pause()
            assert len(resumed) == 1
            shown = " ".join(" ".join(str(toast.render()).split()) for toast in app.screen.query("Toast"))
            assert "default-lstm2x256 is being trained by another process" in shown
            await pilot.press("down", "r")
            assert resumed[-1] == models / "killed-run"

    asyncio.run(scenario())


def add_sweep(models: Path, name: str, trials: dict[str, float], where: str = "sweeps") -> Path:
    """A sweep where the engine puts it (models/sweeps/, or models/ itself as with --out), with hand-written
    trials of the given ages (seconds)."""
    sweep = SweepDir.create(models / where / name, sweep_preset("study-layers"))
    for trial, age_s in trials.items():
        make_run(sweep.path / TRIALS_DIR, trial, corpus="nietzsche", hidden=64, steps=200, age_s=age_s)
    return sweep.path


@pytest.mark.parametrize("where", ["sweeps", "."])
def test_sweep_trials_are_listed_by_name_and_stay_with_their_sweep(tmp_path: Path, models: Path, where: str) -> None:
    trials = add_sweep(models, "grid", {"t000": 600, "t001": 1800}, where) / TRIALS_DIR
    make_run(models / "not-a-sweep" / "trials", "t000")  # no sweep.json: not a sweep's trial
    resumed: list[Path] = []

    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        app.resume_run = resumed.append  # type: ignore[method-assign,assignment]
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await pilot.press("4")
            table = app.screen.query_one(RunTable)
            sweep_row = "sweep:" + str(trials.parent)
            assert [row.key.value for row in table.ordered_rows] == [  # the sweep collapsed, where its newest goes
                str(models / "shakespeare-lstm2x256"), sweep_row, str(models / "nietzsche-gru2x128"),
                str(models / "default-lstm2x256")]
            assert [str(cell) for cell in table.get_row_at(1)][1:6] == ["▸ grid", "sweep", "400", "2.114", "2 trials"]
            await pilot.press("down", "r")
            await pilot.pause()
            assert resumed == []  # a sweep's row is not a run
            await pilot.press("enter")
            assert [row.key.value for row in table.ordered_rows][1:4] == [
                sweep_row, str(trials / "t000"), str(trials / "t001")]
            assert str(table.get_row_at(2)[1]) == "  t000"
            await pilot.press("down")
            assert app.screen.query_one(LossChart).border_title == "grid/t000"
            await pilot.press("m", "down")
            assert app.screen.query_one(LossChart).border_subtitle == "vs ◆ grid/t000"
            await pilot.press("delete")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert (trials / "t001").is_dir()
            await pilot.press("r")
            await pilot.pause()
            assert resumed == []
            shown = " ".join(" ".join(str(toast.render()).split()) for toast in app.screen.query("Toast"))
            assert "grid/t001 is a trial of sweep grid, part of its results" in shown
            assert "grid/t001 is a trial of sweep grid: resume the sweep" in shown
            os.utime(trials, (MTIME, MTIME))  # a directory's mtime can be coarse
            await pilot.pause(0.1)
            make_run(trials, "t002")
            await pilot.pause(1.5)
            assert str(trials / "t002") in [row.key.value for row in table.ordered_rows]

    asyncio.run(scenario())


def test_o_orders_and_slash_filters_and_escape_gives_the_keys_back(tmp_path: Path, models: Path) -> None:
    add_sweep(models, "grid", {"t000": 600})

    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4")
            table = app.screen.query_one(RunTable)

            def names() -> list[str]:
                return [str(table.get_row_at(i)[1]).strip() for i in range(table.row_count)]

            await pilot.press("o")  # best validation loss first; a run without one last
            assert names() == ["shakespeare-lstm2x256", "nietzsche-gru2x128", "▸ grid", "default-lstm2x256"]
            assert "best val first" in str(table.border_title)
            await pilot.press("o")
            assert names() == ["default-lstm2x256", "▸ grid", "nietzsche-gru2x128", "shakespeare-lstm2x256"]
            await pilot.press("slash", "n", "i", "e", "t", "z")
            assert names() == ["▾ grid", "t000", "nietzsche-gru2x128"]  # a match inside a sweep opens it
            await pilot.press("escape", "1")
            assert app.current_mode == "train"  # the filter gave the keys back: 1 switched screens
            await pilot.press("4")
            assert len(names()) == 4

    asyncio.run(scenario())


def test_the_palette_offers_the_screens_own_commands(tmp_path: Path, models: Path) -> None:
    async def scenario() -> None:
        app = make_app(tmp_path, models=models)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4", "ctrl+p")
            await pilot.press(*"runs: order")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause()
            assert "best val first" in str(app.screen.query_one(RunTable).border_title)

    asyncio.run(scenario())


def test_generation_defaults_to_the_newest_finished_run_not_a_trial(tmp_path: Path, models: Path) -> None:
    from tuirnn.runs import generation_default, run_label

    add_sweep(models, "grid", {"t000": -600})  # the newest of all, but a sweep's trial
    make_run(models, "done", steps=600, status="completed", age_s=-100)
    make_run(models, "fresh-and-short", steps=20, status="running", age_s=-300)  # newer, but no validation yet
    chosen = generation_default(list_runs(models))
    assert chosen is not None and chosen.name == "done"
    assert run_label(chosen).startswith("done (600 steps, val 1.403, ")


def test_runs_command_names_sweep_trials(tmp_path: Path, models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tuirnn.cli import main

    add_sweep(models, "grid", {"t000": 0})
    (add_sweep(models, "damaged", {}) / TRIALS_DIR).write_text("not a directory", encoding="utf-8")
    assert main(["--models-dir", str(models), "runs"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert sorted(names) == ["default-lstm2x256", "grid/t000", "nietzsche-gru2x128", "shakespeare-lstm2x256"]


def test_dates_show_the_time_this_year_and_the_year_before(stable_env: None) -> None:
    assert _date(MTIME) == "2024-06-01"
    now = time.time()
    assert _date(now) == time.strftime("%m-%d %H:%M", time.gmtime(now))


# ----- the tail ----------------------------------------------------------------------------------
def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def test_jsonl_tail_reads_only_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    tail = JsonlTail(path)
    assert tail.read() == (False, [])
    append(path, '{"step": 1}\n{"step": 2}\n')
    assert tail.read() == (False, [{"step": 1}, {"step": 2}])
    assert tail.read() == (False, [])
    append(path, 'not json\n[1]\n{"step": 3}\n')
    assert tail.read() == (False, [{"step": 3}])


def test_jsonl_tail_keeps_a_torn_line_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    tail = JsonlTail(path)
    append(path, '{"step": 1}\n{"step": 2, "te')
    assert tail.read() == (False, [{"step": 1}])
    append(path, 'xt": "é')
    assert tail.read() == (False, [])
    append(path, '"}\n')
    assert tail.read() == (False, [{"step": 2, "text": "é"}])


def test_jsonl_tail_starts_over_when_the_file_shrinks_or_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    tail = JsonlTail(path)
    append(path, "".join(json.dumps({"step": s}) + "\n" for s in range(5)))
    assert len(tail.read()[1]) == 5
    path.write_text('{"step": 0}\n', encoding="utf-8")  # truncated in place
    assert tail.read() == (True, [{"step": 0}])
    replacement = tmp_path / "new.jsonl"
    replacement.write_text('{"step": 0}\n{"step": 1}\n{"step": 9}\n', encoding="utf-8")
    os.replace(replacement, path)  # an atomic rewrite: another file, here even a longer one
    assert tail.read() == (True, [{"step": 0}, {"step": 1}, {"step": 9}])
    path.unlink()
    assert tail.read() == (True, [])


def test_metrics_tail_builds_curves_and_restarts_them(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    metrics = MetricsTail(path)
    assert not metrics.poll()
    assert metrics.best_val is None and metrics.last_step == 0
    append(path, '{"step": 10, "loss": 3.0}\n{"step": 20, "loss": null}\n{"step": 20, "loss": 2.5}\n'
                 '{"step": 20, "val_loss": 2.6, "val_bpc": 3.75}\n{"step": 30, "val_loss": 2.7}\n')
    assert metrics.poll()
    assert (metrics.steps, metrics.losses) == ([10, 20], [3.0, 2.5])
    assert (metrics.val_steps, metrics.val_losses) == ([20, 30], [2.6, 2.7])
    assert metrics.best_val == (2.6, 3.75) and metrics.last_step == 30
    assert not metrics.poll()
    path.write_text('{"step": 10, "loss": 3.0}\n', encoding="utf-8")
    assert metrics.poll()
    assert (metrics.steps, metrics.val_steps, metrics.best_val) == ([10], [], None)


def test_run_tail_summary_runs_ahead_of_run_json(tmp_path: Path, stable_env: None) -> None:
    from tuirnn.runs import list_runs

    path = make_run(tmp_path / "models", "run", steps=200, status="running")
    trainer = RunDir.open(path)
    trainer.claim()  # as the process training it would
    (listed,) = list_runs(tmp_path / "models")
    tail = RunTail(path)
    assert tail.poll()
    assert len(tail.samples) == 1
    assert tail.summarize(listed) == listed
    RunDir.open(path).append_metrics({"step": 210, "val_loss": 0.5, "val_bpc": 0.72})
    assert tail.poll() and not tail.poll()
    updated = tail.summarize(listed)
    assert (updated.steps, updated.best_val_loss, updated.best_val_bpc, updated.status) == (210, 0.5, 0.72, "running")
    trainer.release()  # the trainer died without a word: the same run.json now reads as interrupted
    assert tail.summarize(listed).status == "interrupted"


# ----- snapshots ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_snapshot(snap_compare: Callable[..., bool], tmp_path: Path, models: Path, size: tuple[int, int]) -> None:
    """Three runs, the first marked for comparison and the second highlighted: both curves on one chart."""
    assert snap_compare(make_app(tmp_path, models=models), press=["4", "down", "up", "m", "down"], terminal_size=size)
