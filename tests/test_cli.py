"""The headless command line: the study's training command, reproducible generation, one-line errors for
every bad input, and the listing, planning and configuration commands."""

from __future__ import annotations

import argparse
import json
import math
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import shared_corpus
from helpers import CliResult, main_in_process, run_cli, tiny_flags, write_text

from tuirnn.checkpoint import load_checkpoint
from tuirnn.cli import main
from tuirnn.config import RunConfig, load_toml, preset
from tuirnn.corpus import Vocabulary
from tuirnn.runs import RunDir
from tuirnn.sizing import parameter_count

PROMPT = "SUPPOSING that Truth"


@pytest.fixture(scope="module")
def study_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[CliResult, Path]:
    """The issue's command, run once for the module: the study's LSTM, shrunk to 64 units and 60 steps."""
    nietzsche = shared_corpus("nietzsche.txt")
    home = tmp_path_factory.mktemp("study")
    out = home / "run"
    result = run_cli("train", "--corpus", nietzsche, "--preset", "study-rnn2", "--hidden", "64", "--max-steps", "60",
                     "--device", "cpu", "--out", out,
                     env={"TUIRNN_MODELS_DIR": str(home / "models"), "TUIRNN_DATA_DIR": str(home / "data")})
    return result, out


def test_study_command_trains_and_writes_the_run(study_run: tuple[CliResult, Path]) -> None:
    result, out = study_run
    assert result.rc == 0, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip() == ""
    assert "completed at step 60" in result.stdout
    names = {p.name for p in out.iterdir()}
    assert names == {"config.json", "vocab.json", "run.json", "metrics.jsonl", "samples.jsonl",
                     "latest.safetensors", "best.safetensors"}  # no lock file left behind
    run = RunDir.open(out)
    assert run.config.preset == "study-rnn2" and run.config.model.hidden_size == 64
    assert run.config.model.cell == "lstm" and run.config.data.seq_len == 42
    assert run.info["status"] == "completed" and run.info["step"] == 60
    losses = [r["loss"] for r in run.metrics() if "loss" in r]
    assert [r["step"] for r in run.metrics() if "loss" in r] == [1, 2, 5, *range(10, 61, 10)]  # early steps too
    uniform = math.log(len(run.vocab))  # the loss of knowing nothing
    assert losses[0] > losses[-1] + 0.5
    assert losses[-1] < uniform - 1.0
    assert sum(b < a for a, b in pairwise(losses)) >= len(losses) - 2  # falling, allowing one bump
    [evaluation] = [r for r in run.metrics() if "val_loss" in r]
    assert evaluation["step"] == 60 and evaluation["val_loss"] < uniform - 1.0
    assert run.info["best_val_loss"] == pytest.approx(evaluation["val_loss"])
    assert load_checkpoint(run.latest_path).step == 60 and load_checkpoint(run.best_path).step == 60
    [sample] = run.samples()
    assert sample["step"] == 60 and len(sample["text"]) == 200


def _generate(out: Path, *flags: str) -> CliResult:
    return run_cli("generate", out, "--prompt", PROMPT, "--length", "300", *flags)


def test_generate_is_reproducible_by_seed(study_run: tuple[CliResult, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, out = study_run
    first, again = _generate(out, "--seed", "7"), _generate(out, "--seed", "7")
    assert first.rc == again.rc == 0, first.stderr
    assert first.stdout == again.stdout
    text = first.stdout.removesuffix("\n")
    assert text.startswith(PROMPT) and len(text) == len(PROMPT) + 300
    assert first.stderr.strip() == "tuirnn: seed 7"

    assert main(["generate", str(out), "--prompt", PROMPT, "--length", "300", "--seed", "8"]) == 0
    other = capsys.readouterr()
    assert other.out != first.stdout and other.out.startswith(PROMPT)
    assert main(["generate", str(out), "--prompt", PROMPT, "--length", "300", "--seed", "7"]) == 0
    assert capsys.readouterr().out == first.stdout


def test_generate_greedy_needs_no_seed(study_run: tuple[CliResult, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _, out = study_run
    args = ["generate", str(out), "--prompt", PROMPT, "--length", "300", "--greedy"]
    assert main(args) == 0
    first = capsys.readouterr()
    assert main([*args, "--output", str(tmp_path / "text.txt")]) == 0
    second = capsys.readouterr()
    assert first.out == second.out and first.err.strip() == "tuirnn: greedy (no seed)"
    assert (tmp_path / "text.txt").read_text(encoding="utf-8") == first.out.removesuffix("\n")


def test_generate_without_seed_reports_one(study_run: tuple[CliResult, Path],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _, out = study_run
    assert main(["generate", str(out), "--prompt", PROMPT, "--length", "50", "--checkpoint", "latest"]) == 0
    first = capsys.readouterr()
    seed = first.err.strip().removeprefix("tuirnn: seed ")
    assert seed.isdigit()
    assert main(["generate", str(out), "--prompt", PROMPT, "--length", "50", "--checkpoint", "latest",
                 "--seed", seed]) == 0
    assert capsys.readouterr().out == first.out


def test_unknown_prompt_characters(study_run: tuple[CliResult, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, out = study_run
    refused = run_cli("generate", out, "--prompt", "Truth@ is~", "--seed", "7")
    line = refused.error_line()
    assert refused.rc == 2 and refused.stdout == ""
    assert "not in the model's vocabulary" in line and "'@'" in line and "'~'" in line

    assert main(["generate", str(out), "--prompt", "Truth@ is~", "--length", "40", "--seed", "7",
                 "--drop-unknown"]) == 0
    dropped = capsys.readouterr()
    assert "warning: dropped characters not in the vocabulary: '@', '~'" in dropped.err
    assert dropped.out.startswith("Truth is") and len(dropped.out.removesuffix("\n")) == len("Truth is") + 40


def test_runs_lists_the_run(study_run: tuple[CliResult, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, out = study_run
    assert main(["--models-dir", str(out.parent), "runs"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[:4] == ["run", "corpus", "model", "steps"]
    [row] = [line for line in listing[1:] if line.startswith("run ")]
    best = RunDir.open(out).info["best_val_loss"]
    assert row.split()[1:6] == ["nietzsche", "lstm", "2x64", "60", f"{best:.4f}"] and "completed" in row


def test_runs_with_no_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--models-dir", str(tmp_path / "none"), "runs"]) == 0
    assert "no runs in" in capsys.readouterr().out


def _corpus_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    return path


BAD_CORPORA = {
    "empty": (b"", "is empty"),
    "whitespace": (b" \n\n\t \n", "holds only whitespace"),
    "binary": (b"PK\x03\x04\x00\x00\x08\x00 some zip-like bytes", "looks binary, not text (NUL byte at byte offset 4)"),
    "not-utf8": (b"Beyond Good and Evil\n\xe9t\xe9 " * 3, "not valid UTF-8 at byte offset 21;"),
    "too-short-to-split": (b"Truth is a woman.", "too short to split"),
    "too-short-for-a-batch": (("Truth is a woman. " * 7).encode(), "text too short for batch 8 x sequence 16"),
}


def cli(capsys: pytest.CaptureFixture[str], real: bool, *args: str | Path, cwd: Path | None = None) -> CliResult:
    """`tuirnn ARGS` as a real process where `real` (one case of each error class), else main() in this
    process: the same one-line contract, without a process's start-up for every case."""
    if real:
        return run_cli(*args, cwd=cwd)
    return main_in_process(capsys, *args)


@pytest.mark.parametrize("case", list(BAD_CORPORA))
def test_bad_corpus_is_one_line_and_no_run(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    content, message = BAD_CORPORA[case]
    corpus = _corpus_file(tmp_path, content)
    result = cli(capsys, case == "binary", "train", "--corpus", corpus,
                 *tiny_flags(batch_size=8 if case.startswith("too") else 4), "--out", tmp_path / "run")
    line = result.error_line()
    assert result.rc == 2 and result.stdout == ""
    assert line.startswith("tuirnn: error: ") and message in line
    assert not (tmp_path / "run").exists()


def test_invalid_utf8_loads_with_replace_or_latin1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _corpus_file(tmp_path, "Jenseits von Gut und Böse. Vorrede.\n".encode("latin-1") * 200)
    info = run_cli("data", "info", corpus)
    assert "byte offset 22;" in info.error_line() and info.rc == 2
    assert main(["data", "info", str(corpus), "--encoding-errors", "replace"]) == 0
    assert "\ufffd" in capsys.readouterr().out
    assert main(["train", "--corpus", str(corpus), "--encoding-errors", "latin-1", *tiny_flags(max_steps=2),
                 "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert "ö" in RunDir.open(tmp_path / "run").vocab


BAD_SETTINGS = {
    "negative-hidden": (["--hidden", "-3"], "hidden_size must be between 1 and 16384"),
    "lr-not-a-number": (["--lr", "abc"], "lr: 'abc' is not a valid float"),
    "lr-nan": (["--lr", "nan"], "lr must be positive"),
    "dropout-too-high": (["--dropout", "1.5"], "dropout must be in [0, 1)"),
    "unknown-cell": (["--cell", "foo"], "cell must be one of rnn, gru, lstm (got 'foo')"),
    "fractional-steps": (["--max-steps", "1.5"], "max_steps: '1.5' is not a valid int"),
    "zero-layers": (["--layers", "0"], "layers must be between 1 and 16"),
    "streams-last": (["--targets", "last"], "targets must be 'all' with the streams layout"),
    "unknown-preset": (["--preset", "huge"], "invalid choice: 'huge'"),
    "preset-and-config": (["--preset", "tiny", "--config", "x.toml"], "either --preset or --config"),
    "missing-config": (["--config", "missing.toml"], "cannot read missing.toml"),
    "unknown-flag": (["--hiden", "3"], "unrecognized arguments: --hiden"),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_bad_settings_are_one_line(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    flags, message = BAD_SETTINGS[case]
    monkeypatch.chdir(tmp_path)
    result = cli(capsys, case in ("unknown-flag", "lr-nan"), "train", "--corpus", "default", *flags,
                 "--out", tmp_path / "run", cwd=tmp_path)
    line = result.error_line()
    assert result.rc == 2 and result.stdout == ""
    assert message in line, line
    assert not (tmp_path / "run").exists()


def test_unavailable_device_and_bad_out_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    result = run_cli("train", *tiny_flags(device="mps"), "--out", tmp_path / "run")
    assert "device 'mps' was asked for, but MPS is not available here" in result.error_line()
    assert result.rc == 2 and not (tmp_path / "run").exists()
    (tmp_path / "taken").write_text("", encoding="utf-8")
    assert main(["train", *tiny_flags(), "--out", str(tmp_path / "taken")]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


def test_bad_toml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[model]\nhidden_size = \n", encoding="utf-8")
    (tmp_path / "odd.toml").write_text("[model]\nwidth = 3\n", encoding="utf-8")
    bad = run_cli("train", "--config", tmp_path / "bad.toml", "--dry-run")
    assert "is not valid TOML" in bad.error_line() and bad.rc == 2
    odd = run_cli("train", "--config", tmp_path / "odd.toml", "--dry-run")
    assert "unknown setting [model] 'width'" in odd.error_line() and odd.rc == 2


@pytest.mark.parametrize("args", [
    ["train", "--resume", "{missing}"], ["generate", "{run}", "--temperature", "0"],
    ["train", "--resume", "{run}", "--hidden", "32"], ["data", "info", "{missing}"], ["frobnicate"],
    ["generate", "{run}", "--length", "many"],
])
def test_bad_run_arguments_are_one_line(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    RunDir.create(run, RunConfig(), Vocabulary(tuple("ab")), {})
    filled = [a.format(missing=tmp_path / "missing", run=run) for a in args]
    result = cli(capsys, args[0] == "frobnicate", *filled)
    line = result.error_line()
    assert result.rc == 2 and result.stdout == ""
    assert line.startswith("tuirnn: ")


def test_missing_run_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli("generate", tmp_path / "nowhere", "--seed", "1")
    assert f"no run directory at {tmp_path / 'nowhere'}" in result.error_line()
    assert result.rc == 2 and result.stdout == ""
    empty = tmp_path / "empty-run"
    empty.mkdir()
    assert main(["generate", str(empty), "--seed", "1"]) == 2
    assert "is not a tuirnn run: config.json is missing" in capsys.readouterr().err


def test_resume_keeps_settings_and_finds_a_relative_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write_text(project / "words.txt", 3000)
    monkeypatch.chdir(project)
    out = tmp_path / "run"
    assert main(["train", "--corpus", "words.txt", *tiny_flags(max_steps=4), "--out", str(out)]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume", str(out), "--max-steps", "8"]) == 0
    assert main(["train", "--resume", str(out)]) == 0  # the extended goal was kept: nothing left to do
    capsys.readouterr()
    run = RunDir.open(out)
    assert run.config.train.max_steps == 8 and run.info["step"] == 8
    assert [r["step"] for r in run.metrics() if "loss" in r] == list(range(1, 9))
    assert main(["train", "--resume", str(out), "--lr", "0.1"]) == 2
    assert "a resumed run keeps its settings" in capsys.readouterr().err


def test_dry_run_prints_the_plan(nietzsche_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli("train", "--corpus", nietzsche_path, "--preset", "study-rnn2", "--hidden", "64", "--dry-run",
                     "--out", tmp_path / "run")
    assert result.rc == 0, result.stderr
    config = preset("study-rnn2")
    config.model.hidden_size = 64
    lines = result.stdout.splitlines()
    assert lines[0] == "corpus: nietzsche (600,901 chars, 84 distinct) from " + str(nietzsche_path)
    assert f"parameters: {parameter_count(config.model, 84):,};" in result.stdout
    assert "steps: 12,060 (201 per epoch of batch 64 x 42 characters)" in lines
    assert not (tmp_path / "run").exists()

    assert main(["train", "--corpus", str(nietzsche_path), "--layers", "1", "--dropout", "0.2", "--dry-run"]) == 0
    assert "warning: dropout has no effect with 1 layer" in capsys.readouterr().out


def test_save_config_round_trips(tmp_path: Path, nietzsche_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "study.toml"
    assert main(["train", "--preset", "study-rnn1", "--hidden", "48", "--corpus", str(nietzsche_path),
                 "--sample-prompt", 'He said "é"\n', "--no-carry-state", "--save-config", str(saved)]) == 0
    expected = preset("study-rnn1")
    expected.model.hidden_size = 48
    expected.data.corpus = str(nietzsche_path)
    expected.data.carry_state = False
    expected.train.sample_prompt = 'He said "é"\n'
    assert load_toml(saved) == expected

    again = tmp_path / "again.toml"
    assert main(["train", "--config", str(saved), "--lr", "0.01", "--save-config", str(again)]) == 0
    expected.train.lr = 0.01
    assert load_toml(again) == expected
    capsys.readouterr()
    assert main(["train", "--config", str(again), "--dry-run"]) == 0
    assert "model: rnn 1x48" in capsys.readouterr().out


def test_presets_lists_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "tiny", "study-rnn1", "study-rnn1_2", "study-rnn2"):
        assert f"\n{name}: " in "\n" + out
    assert "hidden_size=512" in out and "layout='windows'" in out


def test_data_list_and_info(nietzsche_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "python-docs" in listing and "built-in" in listing
    assert [line.split()[1] for line in listing.splitlines() if line.startswith("nietzsche")] == ["not"]
    assert main(["data", "info", str(nietzsche_path)]) == 0
    info = capsys.readouterr().out.splitlines()
    assert info[0].startswith("nietzsche (600,901 chars, 85 distinct)")
    assert info[1].startswith("train 540,811 chars, validation 60,090 chars; sha256 ")
    assert info[2].startswith("vocabulary: '\\n'' '!")
    assert main(["data", "info", "default", "--newlines-to-spaces"]) == 0
    assert capsys.readouterr().out.startswith("python-docs (")


@pytest.mark.parametrize("command", [[], ["train"], ["generate"], ["data"], ["data", "list"], ["data", "fetch"],
                                     ["data", "info"], ["runs"], ["presets"]])
def test_help_for_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    result = cli(capsys, command == ["train"], *command, "--help")
    assert result.rc == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: tuirnn" + "".join(f" {c}" for c in command))


def test_config_json_matches_the_run(study_run: tuple[CliResult, Path]) -> None:
    _, out = study_run
    raw = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert RunConfig.from_dict(raw) == RunDir.open(out).config
    assert Path(raw["data"]["corpus"]).is_absolute()


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _parsers(sub)
    return found


def test_every_option_has_help_that_shows_its_default() -> None:
    from tuirnn.cli import build_parser

    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            where = f"{parser.prog} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{where} has no help"
            takes_value = action.option_strings and action.nargs != 0 and not isinstance(
                action, argparse.BooleanOptionalAction)
            if takes_value:
                assert "default" in action.help, f"{where} does not say its default: {action.help!r}"


def test_version_and_doctor_without_cuda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from tuirnn import __version__

    assert main_in_process(capsys, "--version").stdout == f"tuirnn {__version__}\n"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = main_in_process(capsys, "--models-dir", tmp_path / "models", "--data-dir", tmp_path / "data", "doctor")
    assert result.rc == 0 and result.stderr == ""
    lines = dict(line.split(None, 1) for line in result.stdout.replace("device auto", "device-auto")
                 .replace("precision auto", "precision-auto").replace("CPU threads", "CPU-threads")
                 .replace("models directory", "models-directory").replace("data directory", "data-directory")
                 .splitlines())
    assert lines["tuirnn"].strip() == __version__
    assert lines["torch"].startswith(torch.__version__)
    assert lines["CUDA"].startswith("not available")
    assert lines["device-auto"].startswith("cpu")
    assert lines["precision-auto"].startswith("fp32")
    assert "will be created, writable" in lines["models-directory"]
    assert "nietzsche (not downloaded)" in lines["corpora"]
    (tmp_path / "file").write_text("x", encoding="utf-8")
    bad = main_in_process(capsys, "--models-dir", tmp_path / "file", "doctor")
    assert bad.rc == 1 and "is a file, not a directory" in bad.stdout
    assert bad.stderr.startswith("tuirnn: problem: models directory: ")
