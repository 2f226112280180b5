"""`tuirnn inspect`: ranked units, the strip and the baselines for a run found as the other commands find it;
one-line errors for every bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from helpers import main_in_process
from inspect_helpers import CLOSE, OPEN, PLANTED_UNIT, planted_model, planted_run, save_run, vocab_of

from tuirnn import cli
from tuirnn.inspect_cli import add_inspect_parser, cmd_inspect


@pytest.fixture(autouse=True)
def inspect_wired(monkeypatch: pytest.MonkeyPatch) -> None:
    """`inspect` as a subcommand of tuirnn.cli until cli.py registers it itself (then this does nothing)."""
    if "inspect" in cli.COMMANDS:
        return
    build = cli.build_parser

    def with_inspect() -> cli.Parser:
        parser = build()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        add_inspect_parser(commands, cli._resolve_run_path)
        return parser

    monkeypatch.setattr(cli, "build_parser", with_inspect)
    monkeypatch.setitem(cli.COMMANDS, "inspect", cmd_inspect)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return planted_run(tmp_path, 3000)[0].path


def test_json_ranks_the_planted_unit_first(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = main_in_process(capsys, "inspect", run.name, "--probe", "quotes", "--top", "3", "--json",
                             "--corpus-offset", "0", "--length", "1500", "--quantity", "c")
    assert result.rc == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["checkpoint"] == "best (step 100)" and found["characters"] == 1500
    assert found["text"] == "words from character 0" and found["quantities"] == ["c"]
    top = found["units"][0]
    assert (top["layer"], top["quantity"], top["unit"]) == (1, "c", PLANTED_UNIT) and top["correlation"] > 0.99
    assert len(found["units"]) == 3
    assert set(found["surprise"]) == {"loss", "bits_per_char", "wrong_share"}
    assert sorted(found["ngram_baseline"]) == ["1", "2", "3", "4", "5"]
    assert found["best_val_loss"] == 1.5 and found["gates"] == []


def test_plain_output_has_the_ranking_a_strip_and_the_baselines(run: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "mine.txt"
    content = f"The {OPEN}will to power{CLOSE} is a truth and {OPEN}free spirit{CLOSE}.\n" * 5
    text.write_text(content, encoding="utf-8")
    result = main_in_process(capsys, "inspect", run, "--text", text, "--probe", "quotes", "--top", "4", "--gates")
    assert result.rc == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {run}, best (step 100); text: {text}, {len(content)} characters"
    assert any(line.startswith("n-gram baseline (validation, nats/char): order 1 ") for line in lines)
    rank = lines.index(next(line for line in lines if line.startswith("rank")))
    assert lines[rank + 1].split()[:2] == ["1", "L1"] and f"h[{PLANTED_UNIT}]" in lines[rank + 1]
    strip = lines.index(next(line for line in lines if line.startswith(f"L1 h[{PLANTED_UNIT}] over the text")))
    assert "'#' >0.6" in lines[strip]
    assert lines[strip + 1] == content[:100].replace("\n", "$")
    marks = lines[strip + 2]
    assert len(marks) == 100 and set(marks) <= set("=- +#")
    assert marks[content.index("will")] == "#" and marks[1] == " "  # on inside the quotes only
    assert any(line.startswith("L2 forget gate") for line in lines)
    assert all(line.isascii() for line in lines if OPEN not in line and CLOSE not in line)


def test_span_probe_and_the_other_probes(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for probe in ("span", "brackets", "line", "word-start", "capitalised", "sentence-end"):
        extra = ["--span", "10:40"] if probe == "span" else []
        result = main_in_process(capsys, "inspect", run, "--probe", probe, "--json", "--corpus-offset", "0", *extra)
        if probe == "brackets":  # the word salad has none
            assert "never changes in this text" in result.error_line()
            continue
        assert result.rc == 0, (probe, result.stderr)
        units = json.loads(result.stdout)["units"]
        assert len(units) == 10 and (units[0]["on_share"] is None) == (probe == "line")


def test_best_falls_back_to_latest_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, corpus = planted_run(tmp_path, 2000)
    vocab = vocab_of(corpus.read_text(encoding="utf-8"))
    path = save_run(tmp_path / "models" / "early", planted_model(vocab), vocab, corpus, step=7, best=False).path
    result = main_in_process(capsys, "inspect", path, "--json", "--corpus-offset", "0")
    assert result.rc == 0, result.stderr
    assert "has no best checkpoint yet" in result.stderr and "latest (step 7)" in result.stderr
    assert json.loads(result.stdout)["checkpoint"] == "latest (step 7)"


def test_a_text_without_its_corpus_still_inspects(run: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "mine.txt"
    text.write_text(f"a {OPEN}b{CLOSE} c " * 20, encoding="utf-8")
    (tmp_path / "words.txt").unlink()
    result = main_in_process(capsys, "inspect", run, "--text", text, "--json")
    assert result.rc == 0 and "no n-gram baseline" in result.stderr
    assert json.loads(result.stdout)["ngram_baseline"] is None
    assert "no corpus file" in main_in_process(capsys, "inspect", run).error_line()


@pytest.mark.parametrize(("args", "message"), [
    (["--corpus-offset", "999999"], "outside corpus"),
    (["--length", "0"], "--length must be at least 1"),
    (["--top", "0"], "--top must be at least 1"),
    (["--threshold", "1.5"], "--threshold"),
    (["--probe", "span"], "--probe span needs --span"),
    (["--span", "1:4"], "--span goes with --probe span"),
    (["--probe", "span", "--span", "4-1"], "START:END"),
    (["--probe", "span", "--span", "5:99999"], "not inside the text"),
    (["--quantity", "candle"], "has no candle"),
    (["--text", "missing.txt"], "cannot read"),
    (["--probe", "vowels"], "invalid choice"),
    (["--text", "a", "--corpus-offset", "3"], "not allowed with"),
])
def test_bad_input_is_one_line(run: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    result = main_in_process(capsys, "inspect", run, *args)
    assert result.rc == 2
    assert message in result.error_line()


def test_missing_and_escaping_runs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no run directory" in main_in_process(capsys, "inspect", "nothing-here").error_line()
    assert "no run directory" in main_in_process(capsys, "inspect", tmp_path / "nope").error_line()
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "broken").mkdir()
    assert "is not a tuirnn run" in main_in_process(capsys, "inspect", "broken").error_line()
