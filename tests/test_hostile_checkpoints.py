"""Damaged checkpoints and run files are detected, never used.

Each damage here used to go unnoticed: a flipped exponent bit, a dtype or a shape edited in the header
all still parse (asserted below), a reordered vocab.json maps every id to another character, and a
damaged latest resumed and then diverged. Now `generate` refuses with one line naming the file (exit 2),
and a resume ends `failed` with the reason, writing nothing but run.json.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import run_cli, tiny_config, train_run, write_text

from tuirnn.catalog import open_corpus
from tuirnn.checkpoint import load_checkpoint
from tuirnn.cli import main
from tuirnn.config import with_overrides
from tuirnn.corpus import Corpus
from tuirnn.events import Failed
from tuirnn.runs import RunDir
from tuirnn.training import Trainer

TENSOR = "model.rnn.weight_hh_l0"
"""The tensor the damages hit: a GRU's recurrent weights, [48, 16] in the tiny run."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One tiny run (best and latest both at step 4), trained once; each test damages its own copy."""
    root = tmp_path_factory.mktemp("trained")
    corpus_path = write_text(root / "words.txt", 3000)
    corpus = open_corpus(str(corpus_path), root / "data")
    train_run(root / "run", tiny_config(corpus_path, max_steps=4), corpus)
    return root / "run", corpus_path


@pytest.fixture
def run_path(tmp_path: Path, trained: tuple[Path, Path]) -> Path:
    return Path(shutil.copytree(trained[0], tmp_path / "run"))


@pytest.fixture
def corpus(tmp_path: Path, trained: tuple[Path, Path]) -> Corpus:
    return open_corpus(str(trained[1]), tmp_path / "data")


def _header(raw: bytes) -> tuple[int, dict[str, dict[str, object]]]:
    length = int.from_bytes(raw[:8], "little")
    return length, json.loads(raw[8 : 8 + length])


def flip_exponent_bit(path: Path) -> None:
    """Flip the top exponent bit of the first weight of TENSOR: a weight of 0.1 becomes about 1e37."""
    raw = bytearray(path.read_bytes())
    length, header = _header(bytes(raw))
    entry = header[TENSOR]
    assert entry["dtype"] == "F32"
    start = entry["data_offsets"][0]  # type: ignore[index]
    raw[8 + length + start + 3] ^= 0x40  # little-endian float32: byte 3 holds the sign and 7 exponent bits
    path.write_bytes(bytes(raw))


def edit_header(path: Path, old: str, new: str) -> None:
    """Replace `old` with `new` (same length, so no offset moves) inside TENSOR's header entry."""
    assert len(old) == len(new)
    raw = path.read_bytes()
    length, _ = _header(raw)
    header = raw[8 : 8 + length].decode("utf-8")
    start = header.index(f'"{TENSOR}":')
    end = header.index("}", start)
    assert old in header[start:end]
    entry = header[start:end].replace(old, new, 1)
    path.write_bytes(raw[:8] + (header[:start] + entry + header[end:]).encode("utf-8") + raw[8 + length :])


def to_int32(path: Path) -> None:
    edit_header(path, '"dtype":"F32"', '"dtype":"I32"')


def transpose_shape(path: Path) -> None:
    edit_header(path, '"shape":[48,16]', '"shape":[16,48]')


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def permute_vocab(run_path: Path) -> None:
    vocab = run_path / "vocab.json"
    chars = json.loads(vocab.read_text(encoding="utf-8"))["chars"]
    chars[1], chars[2] = chars[2], chars[1]
    vocab.write_text(json.dumps({"chars": chars}, ensure_ascii=False), encoding="utf-8")


def edit_vocab_char(run_path: Path) -> None:
    vocab = run_path / "vocab.json"
    chars = json.loads(vocab.read_text(encoding="utf-8"))["chars"]
    assert "e" in chars and "~" not in chars
    chars[chars.index("e")] = "~"
    vocab.write_text(json.dumps({"chars": chars}, ensure_ascii=False), encoding="utf-8")


def double_hidden_size(run_path: Path) -> None:
    config_file = run_path / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["model"]["hidden_size"] *= 2
    config_file.write_text(json.dumps(config), encoding="utf-8")


SILENT_DAMAGES: dict[str, Callable[[Path], None]] = {
    "exponent-bit": flip_exponent_bit, "dtype-F32-to-I32": to_int32, "shape-transposed": transpose_shape,
}
"""Damages that safetensors parses without complaint: only the checksum can catch them."""
CHECKPOINT_DAMAGES = {**SILENT_DAMAGES, "truncated": truncate}
RUN_FILE_DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "vocab-permuted": (permute_vocab, "vocab.json"),
    "vocab-char-edited": (edit_vocab_char, "vocab.json"),
    "config-hidden-size": (double_hidden_size, "config.json"),
}


def generate(run_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    """`tuirnn generate` in this process: (exit code, stdout, the one error line or the whole stderr)."""
    rc = main(["generate", str(run_path), "--length", "20", "--seed", "1", "--device", "cpu", *flags])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    if rc != 0:
        assert len(lines) == 1, f"expected one error line, got {lines!r}"
        assert lines[0].startswith("tuirnn: error: ") and "Traceback" not in err
    return rc, out, lines[0] if rc != 0 else err


def test_the_undamaged_run_generates(run_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flags in ((), ("--checkpoint", "latest")):
        rc, out, err = generate(run_path, capsys, *flags)
        assert rc == 0 and len(out) > 20 and err.strip() == "tuirnn: seed 1"


@pytest.mark.parametrize("damage", list(SILENT_DAMAGES))
def test_silent_damages_still_parse(run_path: Path, damage: str) -> None:
    """Guards the tests below: without the checksum these files would load and be used."""
    from safetensors.torch import load

    best = run_path / "best.safetensors"
    before = load(best.read_bytes())[TENSOR]
    SILENT_DAMAGES[damage](best)
    after = load(best.read_bytes())[TENSOR]
    assert after.numel() == before.numel()
    assert after.dtype != before.dtype or after.shape != before.shape or not after.equal(before)


@pytest.mark.parametrize("damage", list(CHECKPOINT_DAMAGES))
def test_damaged_best_is_refused_and_intact_latest_offered(run_path: Path, capsys: pytest.CaptureFixture[str],
                                                           damage: str) -> None:
    CHECKPOINT_DAMAGES[damage](run_path / "best.safetensors")
    rc, out, line = generate(run_path, capsys)
    assert rc == 2 and out == ""
    reason = "is corrupt" if damage == "truncated" else "is damaged: its contents do not match the checksum"
    assert f"best.safetensors {reason}" in line
    assert line.endswith("; latest.safetensors (step 4) is intact: generate from it with --checkpoint latest")


def test_damaged_latest_is_refused_and_intact_best_offered(run_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flip_exponent_bit(run_path / "latest.safetensors")
    rc, out, line = generate(run_path, capsys, "--checkpoint", "latest")
    assert rc == 2 and out == ""
    assert "latest.safetensors is damaged" in line
    assert line.endswith("; best.safetensors (step 4) is intact: generate from it with --checkpoint best")


def test_both_damaged_offers_nothing(run_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flip_exponent_bit(run_path / "latest.safetensors")
    to_int32(run_path / "best.safetensors")
    rc, _, line = generate(run_path, capsys)
    assert rc == 2 and "best.safetensors is damaged" in line and "intact" not in line


@pytest.mark.parametrize("damage", list(RUN_FILE_DAMAGES))
def test_damaged_run_files_are_refused(run_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    edit, named = RUN_FILE_DAMAGES[damage]
    edit(run_path)
    rc, out, line = generate(run_path, capsys)
    assert rc == 2 and out == "" and named in line and "intact" not in line
    if named == "config.json":
        assert "best.safetensors does not fit the run's model" in line
        assert "(size mismatch for rnn.weight_ih_l0: checkpoint [48, 8], model [96, 8])" in line
    else:
        assert "the run's vocab.json is not the vocabulary" in line and "best.safetensors was trained with" in line


def _files(run_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run_path.iterdir() if p.name != "run.json"}


def test_resume_of_a_damaged_latest_fails_and_writes_nothing(run_path: Path, corpus: Corpus) -> None:
    flip_exponent_bit(run_path / "latest.safetensors")
    before = _files(run_path)
    run = RunDir.open(run_path)
    result = Trainer(with_overrides(run.config, {"max_steps": 8}), corpus, run, resume=True).run()
    assert isinstance(result, Failed) and result.step == 0
    assert "latest.safetensors is damaged: its contents do not match the checksum" in result.message
    assert (f"; best.safetensors (step 4) is intact: resume from it with `tuirnn train --resume {run_path} "
            "--from best`") in result.message
    info = RunDir.open(run_path).info
    assert info["status"] == "failed" and info["error"] == result.message
    assert _files(run_path) == before  # no new metrics, samples or checkpoints


@pytest.mark.parametrize("damage", ["vocab-permuted", "config-hidden-size"])
def test_resume_blames_the_damaged_run_file(run_path: Path, corpus: Corpus, damage: str) -> None:
    edit, named = RUN_FILE_DAMAGES[damage]
    edit(run_path)
    before = _files(run_path)
    run = RunDir.open(run_path)
    result = Trainer(run.config, corpus, run, resume=True).run()
    assert isinstance(result, Failed) and named in result.message and "\n" not in result.message
    assert "corpus" not in result.message  # the corpus is fine: the run's own file changed
    assert _files(run_path) == before


def test_resume_from_best_continues_with_fresh_optimizer(run_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flip_exponent_bit(run_path / "latest.safetensors")
    assert main(["train", "--from", "best"]) == 2
    assert "--from goes with --resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(run_path), "--from", "best", "--max-steps", "8"]) == 0
    assert "completed at step 8" in capsys.readouterr().out
    run = RunDir.open(run_path)
    latest = load_checkpoint(run.latest_path, vocab=run.vocab)
    assert latest.step == 8 and run.info["status"] == "completed"
    assert [r["step"] for r in run.metrics() if "loss" in r] == list(range(1, 9))


def test_in_a_real_process(run_path: Path) -> None:
    """The one-line contract holds outside pytest's capture too, with the documented exit codes."""
    flip_exponent_bit(run_path / "best.safetensors")
    flip_exponent_bit(run_path / "latest.safetensors")
    generated = run_cli("generate", run_path, "--length", "20", "--seed", "1")
    assert generated.rc == 2 and generated.stdout == ""
    assert "best.safetensors is damaged" in generated.error_line()
    resumed = run_cli("train", "--resume", run_path, "--max-steps", "8")
    assert resumed.rc == 1 and resumed.stdout == ""
    assert "training failed at step 0: checkpoint" in resumed.error_line()
    assert "latest.safetensors is damaged" in resumed.error_line()


def test_a_refused_resume_leaves_config_json_as_it_was(run_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The resumed settings (a longer max_steps) are saved only once the checkpoint has proved good."""
    from tuirnn.cli import main

    before = (run_path / "config.json").read_bytes()
    latest = run_path / "latest.safetensors"
    raw = bytearray(latest.read_bytes())
    raw[-3] ^= 0x40
    latest.write_bytes(bytes(raw))
    assert main(["train", "--resume", str(run_path), "--max-steps", "30"]) == 1
    assert "latest.safetensors" in capsys.readouterr().err
    assert (run_path / "config.json").read_bytes() == before
