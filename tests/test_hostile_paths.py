"""Hostile names and files: a run name, a sweep's trial id or a planted symlink never leads a write, a
delete or a lock outside its directory; a run or sweep another process trains is refused untouched; a run
whose trainer died reads as interrupted. Each case: one error line, the exit code, nothing changed outside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, tiny_config, tiny_flags, train_run, write_text

from tuirnn.catalog import open_corpus
from tuirnn.cli import main
from tuirnn.paths import PathError, check_name, confined, safe_child
from tuirnn.runs import METRICS_FILE, TRAINING_LOCK_FILE, RunDir, list_runs
from tuirnn.sweeps.definition import sweep_preset
from tuirnn.sweeps.sweepdir import SweepDir


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The single stderr line of a failed in-process command (no traceback, nothing else)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("tuirnn: ") and not lines[0].startswith("tuirnn: tuirnn"), lines[0]
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for directories and links): to show nothing changed."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        found[str(path.relative_to(root))] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return found


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    return write_text(tmp_path / "text.txt", 20_000)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A directory outside every root tuirnn was given, with a file in it."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n", encoding="utf-8")
    return victim


# ----- names ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["", " ", ".", "..", "../victim", "a/b", "/abs/run", ".hidden", "nul\x00byte",
                                  "tab\tname", "x" * 300])
def test_check_name_refuses_what_is_not_one_plain_name(name: str) -> None:
    with pytest.raises(PathError):
        check_name(name, "run name")


def test_safe_child_and_confined(tmp_path: Path, victim: Path) -> None:
    root = tmp_path / "models"
    root.mkdir()
    assert safe_child(root, "run-1") == root / "run-1"
    (root / "link").symlink_to(victim)
    with pytest.raises(PathError, match="outside"):
        safe_child(root, "link")
    assert confined(root, root / "a" / "b") == root / "a" / "b"
    for outside in (root / ".." / "victim", Path("/etc"), root / "link" / "precious.txt"):
        with pytest.raises(PathError):
            confined(root, outside)


@pytest.mark.parametrize("name", ["../victim", "/tmp/tuirnn-absolute-run", "", "a/b", ".."])
def test_run_names_stay_under_the_models_directory(name: str, tmp_path: Path, victim: Path, corpus_file: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    before = snapshot(tmp_path)
    rc = main(["--models-dir", str(models), "train", "--corpus", str(corpus_file), "--name", name, *tiny_flags()])
    assert rc == 2
    assert "run name" in one_error(capsys)
    assert snapshot(tmp_path) == before  # no run directory anywhere, the victim untouched
    assert not Path("/tmp/tuirnn-absolute-run").exists()


def test_a_plain_run_name_trains_under_the_models_directory(tmp_path: Path, corpus_file: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    assert main(["--models-dir", str(models), "train", "--corpus", str(corpus_file), "--name", "mine",
                 *tiny_flags()]) == 0
    assert RunDir.open(models / "mine").info["status"] == "completed"


# ----- symlinks planted inside a run ---------------------------------------------------------------------
@pytest.fixture
def trained(tmp_path: Path, corpus_file: Path) -> RunDir:
    config = tiny_config(corpus_file)
    return train_run(tmp_path / "models" / "run", config, open_corpus(str(corpus_file), tmp_path / "data"))


@pytest.mark.parametrize("planted", [METRICS_FILE, TRAINING_LOCK_FILE])
def test_a_symlink_planted_in_a_run_is_never_written_through(planted: str, trained: RunDir, victim: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = victim / "precious.txt"
    (trained.path / planted).unlink(missing_ok=True)  # a finished run leaves no lock file
    (trained.path / planted).symlink_to(target)
    rc = main(["train", "--resume", str(trained.path), "--max-steps", "20"])
    assert rc != 0
    assert "symbolic link" in one_error(capsys)
    assert target.read_text(encoding="utf-8") == "keep me\n"


def test_delete_refuses_a_run_outside_its_root_or_behind_a_link(trained: RunDir, tmp_path: Path,
                                                                victim: Path) -> None:
    from tuirnn.runs import RunError, delete_run

    (victim / "config.json").write_text("{}", encoding="utf-8")
    models = trained.path.parent
    (models / "link").symlink_to(victim)
    for path in (models / "link", victim, models / ".." / "victim"):
        with pytest.raises(RunError):
            delete_run(path, models)
    assert (victim / "precious.txt").exists()
    delete_run(trained.path, models)
    assert not trained.path.exists()


# ----- sweeps: crafted sweep.json and planted links -------------------------------------------------------
def make_sweep(tmp_path: Path, corpus_file: Path) -> SweepDir:
    definition = sweep_preset("study-layers").with_base_overrides(
        {"corpus": str(corpus_file), "max_steps": 2, "hidden_size": 8, "embedding_size": 4, "seq_len": 8,
         "batch_size": 4, "eval_every": 0, "sample_every": 0, "device": "cpu"})
    sweep = SweepDir.create(tmp_path / "sweeps" / "s", definition)
    sweep.add_trial(0, {"layers": 1})
    sweep.save()
    return sweep


@pytest.mark.parametrize("trial_id", ["../../../victim", "/abs", "t001/../../x", "..", ""])
def test_a_crafted_trial_id_is_refused_before_anything_is_touched(trial_id: str, tmp_path: Path, victim: Path,
                                                                  corpus_file: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    sweep = make_sweep(tmp_path, corpus_file)
    raw = json.loads((sweep.path / "sweep.json").read_text(encoding="utf-8"))
    raw["trials"][0]["id"] = trial_id
    (sweep.path / "sweep.json").write_text(json.dumps(raw), encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["sweep", "--resume", str(sweep.path)]) == 2
    assert "is not a trial id" in one_error(capsys)
    assert snapshot(tmp_path) == before
    assert (victim / "precious.txt").read_text(encoding="utf-8") == "keep me\n"


def test_a_trials_directory_planted_as_a_link_is_refused(tmp_path: Path, victim: Path, corpus_file: Path) -> None:
    from tuirnn.runs import RunError

    sweep = make_sweep(tmp_path, corpus_file)
    (sweep.path / "trials").symlink_to(victim, target_is_directory=True)
    with pytest.raises(RunError, match="outside"):
        sweep.trial_path(sweep.trials[0])


def test_a_grid_too_large_to_run_is_refused_with_its_count(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "huge.toml"
    spec.write_text('[sweep]\nname = "huge"\n[axes]\nhidden_size = "1..1000"\nseq_len = "1..1000"\n', encoding="utf-8")
    assert main(["sweep", str(spec), "--dry-run"]) == 2
    assert "1,000,000 trials is more than a sweep can run" in one_error(capsys)


# ----- lock before you write ------------------------------------------------------------------------------
def test_resume_of_a_run_another_process_trains_changes_nothing(trained: RunDir,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(trained.path)
    other = RunDir.open(trained.path)
    other.claim()  # as the process training it would (a separate lock: refused like another process)
    try:
        assert main(["train", "--resume", str(trained.path), "--max-steps", "999"]) == 2
        assert "being trained by another process" in one_error(capsys)
    finally:
        other.release()
    assert snapshot(trained.path) == before  # config.json (max_steps) untouched
    assert main(["train", "--resume", str(trained.path), "--max-steps", "14"]) == 0
    assert RunDir.open(trained.path).config.train.max_steps == 14


def test_a_second_sweep_resume_is_refused_untouched(tmp_path: Path, corpus_file: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sweep = make_sweep(tmp_path, corpus_file)
    owner = SweepDir.open(sweep.path)  # the process running it
    before = snapshot(sweep.path)
    try:
        assert main(["sweep", "--resume", str(sweep.path)]) == 2
        assert "being run by another process" in one_error(capsys)
        assert snapshot(sweep.path) == before
    finally:
        owner.release()
    assert not (sweep.path / ".sweep.lock").exists()  # the owner left nothing behind


def test_a_killed_trainer_reads_as_interrupted(tmp_path: Path, corpus_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    child = subprocess.Popen(
        [sys.executable, "-m", "tuirnn", "--models-dir", str(models), "train", "--corpus", str(corpus_file),
         "--name", "long", *tiny_flags(max_steps=1_000_000, log_every=50)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = list_runs(models)
            logging = (models / "long" / METRICS_FILE).exists()
            if runs and runs[0].status == "running" and logging:
                break
            time.sleep(0.1)
        assert [run.status for run in list_runs(models)] == ["running"]
        assert main(["--models-dir", str(models), "train", "--resume", "long", "--max-steps", "5"]) == 2
        assert "being trained by another process" in one_error(capsys)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert RunDir.open(models / "long").info["status"] == "running"  # what the dead trainer left
    assert [run.status for run in list_runs(models)] == ["interrupted"]
    assert main(["--models-dir", str(models), "runs"]) == 0
    assert "interrupted" in capsys.readouterr().out


# ----- other one-line refusals ----------------------------------------------------------------------------
@pytest.mark.parametrize(("toml", "expected"), [
    ('preset = ["tiny"]\n', "preset must be a preset's name"),
    ("[train]\nmax_steps = true\n", "max_steps: True is not a valid int"),
    ("[model]\noutput_dropout = 1\n", "output_dropout: 1 is not a valid bool"),
    ("[train]\nmax_steps = 1e30\n", "max_steps must be between 0"),
])
def test_crafted_toml_is_one_line(toml: str, expected: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text(toml, encoding="utf-8")
    assert main(["train", "--config", str(config), "--dry-run"]) == 2
    assert expected in one_error(capsys)


def test_huge_integers_and_a_models_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--max-steps", "1e30", "--dry-run"]) == 2
    assert "max_steps must be between 0 (all epochs) and 1,000,000,000" in one_error(capsys)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x", encoding="utf-8")
    assert main(["--models-dir", str(not_a_dir), "runs"]) == 2
    assert "is a file, not a directory" in one_error(capsys)


def test_an_unwritable_models_directory_is_one_line(tmp_path: Path, corpus_file: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    unwritable = Path("/proc/self/tuirnn-models")  # no one, root included, can create a directory there
    assert main(["--models-dir", str(unwritable), "train", "--corpus", str(corpus_file), *tiny_flags()]) == 1
    assert "tuirnn-models" in one_error(capsys)


def test_argparse_errors_have_one_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "fetch"]) == 2
    assert one_error(capsys) == ("tuirnn: data fetch: the following arguments are required: name "
                                 "(see tuirnn data fetch --help)")


def test_a_sweep_name_that_would_leave_the_sweeps_directory_is_refused(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "escape.toml"
    spec.write_text('[sweep]\nname = "../../escaped"\n[axes]\nlayers = [1, 2]\n', encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["--models-dir", str(tmp_path / "models"), "sweep", str(spec)]) == 2
    assert "sweep name '../../escaped' must be a plain name" in one_error(capsys)
    assert snapshot(tmp_path) == before


def test_cpu_out_of_memory_is_one_line(tmp_path: Path, corpus_file: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from tuirnn.train_step import TrainStep

    def no_memory(*args: object, **kwargs: object) -> None:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 88473600000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(TrainStep, "run", no_memory)
    assert main(["train", "--corpus", str(corpus_file), "--out", str(tmp_path / "run"), *tiny_flags()]) == 1
    line = one_error(capsys)
    assert "out of memory: lower batch_size, seq_len or hidden_size" in line and "enforce" not in line
    assert RunDir.open(tmp_path / "run").info["status"] == "failed"


def test_a_dry_run_warns_when_training_cannot_fit_in_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--hidden", "16000", "--layers", "8", "--batch", "64", "--seq", "100", "--device", "cpu",
                 "--dry-run"]) == 0
    assert "it will likely run out of memory" in capsys.readouterr().out
    assert main(["train", "--device", "cpu", "--dry-run"]) == 0
    assert "out of memory" not in capsys.readouterr().out


def test_a_create_that_fails_leaves_no_half_run_and_no_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuirnn import runs
    from tuirnn.config import RunConfig
    from tuirnn.corpus import Vocabulary
    from tuirnn.locks import is_held

    real = runs.atomic_write_bytes

    def full_disk(path: Path, data: bytes) -> None:
        if path.name == runs.VOCAB_FILE:
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(runs, "atomic_write_bytes", full_disk)
    with pytest.raises(OSError):
        RunDir.create(tmp_path / "models" / "run", RunConfig(), Vocabulary(tuple("ab")), {}, claim=True)
    assert not (tmp_path / "models" / "run").exists()
    assert not is_held(tmp_path / "models" / "run" / TRAINING_LOCK_FILE)
    monkeypatch.undo()
    RunDir.create(tmp_path / "models" / "run", RunConfig(), Vocabulary(tuple("ab")), {})  # the name is free again


def test_a_sweep_whose_trials_lead_outside_is_not_read(tmp_path: Path, victim: Path, corpus_file: Path) -> None:
    from tuirnn.runs import RunError

    sweep = make_sweep(tmp_path, corpus_file)
    (sweep.path / "trials").symlink_to(victim, target_is_directory=True)
    with pytest.raises(RunError, match="leads outside the sweep"):
        SweepDir.read(sweep.path)
