"""The Sweep screen's non-UI helpers, moved down into tuirnn.sweeps: axes as text, sweeps on disk, results
as heatmap data and speeds, and the setup's plan. No terminal, no training."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tuirnn.config import RunConfig
from tuirnn.sweeps.axes_text import axis_text, parse_axes_text, value_label
from tuirnn.sweeps.definition import Axis, SweepDefinition, sweep_preset
from tuirnn.sweeps.listing import list_sweeps, new_sweep_path, resumable, sweep_counts
from tuirnn.sweeps.results import average_speed, heatmap_data, speed_text
from tuirnn.sweeps.start import SweepPlan, engine_problem
from tuirnn.sweeps.sweepdir import SWEEP_FILE, SweepDir


def three_axes() -> SweepDefinition:
    return SweepDefinition("three", RunConfig(), (Axis("hidden_size", (128, 256)), Axis("dropout", (0.1, 0.3)),
                                                   Axis("layers", (1, 2))), "grid")


def sweep_with(tmp_path: Path, definition: SweepDefinition, statuses: dict[int, tuple[str, float | None]],
               name: str = "sweep") -> SweepDir:
    """A sweep whose point `number` has the given status and validation loss; the others never started."""
    sweep = SweepDir.create(tmp_path / name, definition)
    for number, point in enumerate(definition.points()):
        if number in statuses:
            record = sweep.add_trial(number, point)
            record.status, record.val_loss = statuses[number]
    sweep.save()
    return sweep


# ----- axes as text ------------------------------------------------------------------------------------


def test_axes_text_lines_parse_like_a_sweep_toml_and_round_trip() -> None:
    axes, errors = parse_axes_text("hidden_size = 256, 512\n# a comment\ndropout = 0.1..0.5 step 0.1\n"
                                   "cell = lstm, 'gru'\n\nlr = [0.01, 0.001]")
    assert errors == []
    assert [(a.name, a.values) for a in axes] == [
        ("hidden_size", (256, 512)), ("dropout", (0.1, 0.2, 0.3, 0.4, 0.5)), ("cell", ("lstm", "gru")),
        ("lr", (0.01, 0.001))]
    _, errors = parse_axes_text("hidden_size 256\nnope = 1, 2\nlayers = 1.5, 2\ndropout = 0.5..0.1")
    assert [error.split(":")[0] for error in errors] == ["axes line 1", "axes line 2", "axes line 3", "axes line 4"]
    study = sweep_preset("study-grid").axes
    assert [axis_text(a) for a in study] == ["hidden_size = 256..1024 step 128", "dropout = 0.1..0.9 step 0.1"]
    assert parse_axes_text("\n".join(map(axis_text, study)))[0] == list(study)


def test_float_values_are_written_so_they_read_back_exactly() -> None:
    axis = Axis("lr", (0.1 + 0.2, 1e-4, 2.0))
    assert axis_text(axis) == "lr = 0.30000000000000004, 0.0001, 2"
    assert parse_axes_text(axis_text(axis))[0][0].values == axis.values
    assert [value_label(v) for v in (0.30000000000000004, 256, "gru", 1e-4)] == ["0.3", "256", "gru", "0.0001"]


# ----- sweeps on disk ----------------------------------------------------------------------------------


def test_new_sweep_paths_never_collide_within_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "20250102-030405")
    first = new_sweep_path(tmp_path, "grid")
    assert first == tmp_path / "sweeps" / "grid-20250102-030405"
    first.mkdir(parents=True)
    second = new_sweep_path(tmp_path, "grid")
    assert second.name == "grid-20250102-030405-2"
    second.mkdir()
    assert new_sweep_path(tmp_path, "grid").name == "grid-20250102-030405-3"


def test_sweeps_are_listed_newest_first_and_damaged_ones_left_out(tmp_path: Path) -> None:
    sweeps = tmp_path / "sweeps"
    old = sweep_with(sweeps, three_axes(), {0: ("done", 1.5)}, "old")
    new = sweep_with(sweeps, three_axes(), {}, "new")
    os.utime(old.path / SWEEP_FILE, (time.time() - 60, time.time() - 60))
    (sweeps / "damaged").mkdir()
    (sweeps / "damaged" / SWEEP_FILE).write_text("{not json")
    (sweeps / "not-a-sweep").mkdir()
    assert [sweep.path for sweep in list_sweeps(sweeps)] == [new.path, old.path]
    assert list_sweeps(tmp_path / "nowhere") == []


def test_counts_and_resumable_follow_the_trials(tmp_path: Path) -> None:
    definition = three_axes()
    started = sweep_with(tmp_path, definition, {0: ("done", 1.5), 1: ("failed", None), 2: ("done", 1.4),
                                                3: ("queued", None)})
    assert sweep_counts(started) == "2/8 done, 1 failed, 1 queued"
    assert resumable(started)
    all_ended = sweep_with(tmp_path, definition, {n: ("pruned" if n == 5 else "done", 1.0) for n in range(8)}, "all")
    assert sweep_counts(all_ended) == "7/8 done, 1 pruned"
    assert not resumable(all_ended)
    del all_ended.trials[-1]  # one never started: there is more to run
    assert resumable(all_ended)


# ----- results -----------------------------------------------------------------------------------------


def test_heatmap_takes_the_best_over_the_other_axes_and_marks_cells_without_a_result(tmp_path: Path) -> None:
    definition = three_axes()  # points: hidden_size major, then dropout, then layers
    sweep = sweep_with(tmp_path, definition, {
        0: ("done", 1.5), 1: ("done", 1.25),   # hidden 128, dropout 0.1: layers 1 and 2
        2: ("failed", None), 3: ("diverged", None),  # hidden 128, dropout 0.3: nothing but failures
        4: ("done", 1.75), 5: ("failed", None),  # hidden 256, dropout 0.1: a result beats a failure
        6: ("running", None),  # hidden 256, dropout 0.3: no result yet
    })
    hidden, dropout, _ = definition.axes
    data = heatmap_data(sweep, "val_loss", hidden, dropout)
    assert (data.row_axis, data.col_axis, data.rows, data.cols) == ("hidden_size", "dropout", ("128", "256"),
                                                                    ("0.1", "0.3"))
    assert data.values == {(0, 0): 1.25, (1, 0): 1.75}
    assert data.failed == frozenset({(0, 1)})
    assert data.names[(0, 0)] == "t001: hidden_size=128, dropout=0.1, layers=2"
    assert data.title == "validation loss, best over layers"
    assert data.best == (0, 0)
    flipped = heatmap_data(sweep, "val_loss", dropout, hidden)
    assert flipped.values == {(0, 0): 1.25, (0, 1): 1.75}


def test_a_one_axis_heatmap_is_one_row_by_the_chosen_metric(tmp_path: Path) -> None:
    definition = SweepDefinition("layers", RunConfig(), (Axis("layers", (1, 2, 3)),), "grid")
    sweep = sweep_with(tmp_path, definition, {0: ("done", 1.5), 2: ("done", 1.25)})
    sweep.trials[0].last_loss, sweep.trials[1].last_loss = 1.1, float("nan")
    data = heatmap_data(sweep, "last_loss", None, definition.axes[0])
    assert (data.row_axis, data.rows, data.cols) == ("", ("",), ("1", "2", "3"))
    assert data.values == {(0, 0): 1.1}  # a NaN loss is no result
    assert data.title == "final training loss (last batch)"


def test_speeds_average_over_the_trials_time_and_fit_a_cell(tmp_path: Path) -> None:
    sweep = sweep_with(tmp_path, three_axes(), {0: ("done", 1.5)})
    record = sweep.trials[0]
    assert average_speed(record) is None  # no time spent yet
    record.step, record.seconds = 100, 4.0
    train, data = record.config["train"], record.config["data"]
    assert average_speed(record) == pytest.approx(100 * train["batch_size"] * data["seq_len"] / 4.0)
    assert [speed_text(v) for v in (None, 950.4, 12_345.0, 1_250_000.0)] == ["–", "950", "12.3k", "1.2M"]


# ----- the setup's plan --------------------------------------------------------------------------------


def test_a_plan_keys_its_check_and_its_timing() -> None:
    definition = three_axes()
    plan = SweepPlan(definition, 2, "local")
    assert plan.key == SweepPlan(three_axes(), 2, "ray").key  # the engine does not change the check
    assert plan.key != SweepPlan(definition, 3, "local").key
    assert plan.key != SweepPlan(definition.with_base_overrides({"max_steps": 7}), 2, "local").key
    retimed = SweepPlan(SweepDefinition("other", RunConfig(), (Axis("layers", (1, 2)),), "grid"), 2, "local")
    assert plan.timing_key != retimed.timing_key  # other trials: their cheapest and dearest are timed again
    assert plan.timing_key == SweepPlan(three_axes(), 2, "ray").timing_key  # the same trials, the same threads
    assert plan.slots().trials == 2
    assert engine_problem("local") is None


def test_a_running_sweeps_progress_and_eta_come_from_its_trials(tmp_path: Path) -> None:
    from tuirnn.sweeps.listing import progress
    from tuirnn.sweeps.sweepdir import TrialRecord

    definition = SweepDefinition("four", RunConfig(), (Axis("lr", (0.1, 0.01, 0.001, 0.0001)),), "grid")
    sweep = SweepDir.create(tmp_path / "four", definition)
    assert progress(sweep, workers=2, now=100.0) == (0.0, None)  # nothing has run: no time to read
    sweep.trials.append(TrialRecord("t000", 0, {"lr": 0.1}, {}, status="done", step=100, total_steps=100,
                                    seconds=10.0))
    sweep.trials.append(TrialRecord("t001", 1, {"lr": 0.01}, {}, status="running", step=50, total_steps=100,
                                    started=95.0))
    done, left = progress(sweep, workers=2, now=100.0)
    assert done == pytest.approx(1.5 / 4)
    assert left == pytest.approx((4 - 1.5) * 10.0 / 2)  # both say ten seconds a trial; two at once
    sweep.release()


@pytest.mark.parametrize("name", ["study-layers", "study-grid"])
def test_a_sweep_written_as_toml_reads_back_the_same(name: str) -> None:
    import tomllib

    from tuirnn.sweeps.definition import parse_sweep

    definition = sweep_preset(name)
    back = parse_sweep(tomllib.loads(definition.to_toml()), definition.name)
    assert back.to_dict() == definition.to_dict()
