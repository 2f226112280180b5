"""Checkpoints and run directories: exact round trips, damaged and hostile files, and a kill mid-save."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from helpers import REPO, run_cli, tiny_config, tiny_flags, train_run, write_text

from tuirnn.catalog import open_corpus
from tuirnn.checkpoint import (
    FORMAT,
    Checkpoint,
    CheckpointError,
    content_digest,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    vocab_digest,
)
from tuirnn.cli import main
from tuirnn.config import ModelConfig
from tuirnn.corpus import Vocabulary
from tuirnn.models import CharRNN
from tuirnn.runs import METRICS_FILE, RunDir, RunError, list_runs


def _trained_state() -> tuple[CharRNN, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell="lstm", layers=2, hidden_size=12, embedding_size=6, dropout=0.1), 9)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        logits, _ = model(torch.randint(0, 9, (3, 5)))
        optimizer.zero_grad()
        logits.logsumexp(-1).mean().backward()
        optimizer.step()
    return model, optimizer


def test_round_trip_is_exact(tmp_path: Path) -> None:
    model, optimizer = _trained_state()
    carried = [torch.randn(2, 3, 12), torch.randn(2, 3, 12)]
    rng = {"cpu": torch.get_rng_state()}
    info = {"best_val_loss": 1.5, "val_loss": None, "note": "é"}
    save_checkpoint(tmp_path / "c.safetensors", Checkpoint(42, model.state_dict(), info, optimizer.state_dict(),
                                                           rng, carried))
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    assert loaded.step == 42 and loaded.info == info
    assert loaded.model.keys() == model.state_dict().keys()
    assert all(torch.equal(loaded.model[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(loaded.carried_state, carried, strict=True))
    assert torch.equal(loaded.rng["cpu"], rng["cpu"])

    # the restored optimizer takes exactly the same next step as the original
    twin = CharRNN(model.config, 9)
    twin.load_state_dict(loaded.model)
    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=1e-2)
    twin_optimizer.load_state_dict(loaded.optimizer)
    batch = torch.randint(0, 9, (3, 5))
    for m, o in ((model, optimizer), (twin, twin_optimizer)):
        m.eval()
        o.zero_grad()
        m(batch)[0].logsumexp(-1).mean().backward()
        o.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(), strict=True))
    assert list(tmp_path.iterdir()) == [tmp_path / "c.safetensors"]  # no temp file left behind


def test_weights_only_checkpoint(tmp_path: Path) -> None:
    model, _ = _trained_state()
    save_checkpoint(tmp_path / "best.safetensors", Checkpoint(3, model.state_dict()))
    loaded = load_checkpoint(tmp_path / "best.safetensors")
    assert loaded.optimizer is None and loaded.carried_state == [] and loaded.rng == {} and loaded.info == {}


def _valid_bytes(tmp_path: Path) -> bytes:
    model, optimizer = _trained_state()
    path = tmp_path / "valid.safetensors"
    save_checkpoint(path, Checkpoint(5, model.state_dict(), {}, optimizer.state_dict()))
    return path.read_bytes()


def _header(metadata: object) -> bytes:
    header = json.dumps({"__metadata__": metadata}).encode()
    return len(header).to_bytes(8, "little") + header


def _signed(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """A file with a correct checksum: its damage is in what the fields say, not in the bytes."""
    from safetensors.torch import save

    return save(tensors, metadata={**metadata, "sha256": content_digest(metadata, tensors)})


@pytest.mark.parametrize("damage", [
    "empty", "truncated-half", "truncated-header", "flipped-header", "garbage", "not-ours", "header-list",
    "metadata-list", "bad-optimizer", "bad-step", "stranger-tensor", "no-checksum", "old-format",
])
def test_damaged_checkpoints_raise_checkpoint_error(tmp_path: Path, damage: str) -> None:
    from safetensors.torch import save

    valid = _valid_bytes(tmp_path)
    header_len = int.from_bytes(valid[:8], "little")
    meta = {"format": FORMAT, "step": "1"}
    raw = {
        "empty": b"",
        "truncated-half": valid[: len(valid) // 2],
        "truncated-header": valid[: 8 + header_len // 2],
        "flipped-header": valid[:8] + valid[8:20].replace(b"{", b"[") + valid[20:],
        "garbage": os.urandom(4096),
        "not-ours": save({"w": torch.zeros(3)}, metadata={"format": "something-else"}),
        "header-list": (2).to_bytes(8, "little") + b"[]",
        "metadata-list": _header([1, 2]),
        "bad-optimizer": _signed({"optimizer.x": torch.zeros(1)}, {**meta, "optimizer": "{}"}),
        "bad-step": _signed({"model.w": torch.zeros(1)}, {**meta, "step": "many"}),
        "stranger-tensor": _signed({"weights": torch.zeros(1)}, meta),
        "no-checksum": save({"model.w": torch.zeros(1)}, metadata=meta),
        "old-format": save({"model.w": torch.zeros(1)}, metadata={**meta, "format": "tuirnn-checkpoint/1"}),
    }[damage]
    path = tmp_path / "latest.safetensors"
    path.write_bytes(raw)
    with pytest.raises(CheckpointError, match="latest.safetensors"):
        load_checkpoint(path)


def test_old_format_is_refused_with_the_reason(tmp_path: Path) -> None:
    from safetensors.torch import save

    path = tmp_path / "best.safetensors"
    path.write_bytes(save({"model.w": torch.zeros(1)}, metadata={"format": "tuirnn-checkpoint/1", "step": "1"}))
    with pytest.raises(CheckpointError, match=r"old format tuirnn-checkpoint/1, which has no checksums"):
        load_checkpoint(path)


def test_checksum_covers_metadata_and_tensors(tmp_path: Path) -> None:
    model, _ = _trained_state()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, Checkpoint(40, model.state_dict(), {"val_loss": 1.25}))
    raw = path.read_bytes()
    assert load_checkpoint(path).step == 40
    for old, new in ((b'"step":"40"', b'"step":"41"'), (b"1.25", b"1.75")):  # one changed digit in the metadata
        assert raw.count(old) == 1
        path.write_bytes(raw.replace(old, new))
        with pytest.raises(CheckpointError, match="c.safetensors is damaged: its contents do not match"):
            load_checkpoint(path)


def test_vocabulary_is_checked_when_given(tmp_path: Path) -> None:
    model, _ = _trained_state()
    vocab = Vocabulary(tuple("abcdefghi"))
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, Checkpoint(1, model.state_dict(), vocab_sha256=vocab_digest(vocab)))
    assert load_checkpoint(path, vocab=vocab).vocab_sha256 == vocab_digest(vocab)
    with pytest.raises(CheckpointError, match="vocab.json is not the vocabulary .*c.safetensors was trained with"):
        load_checkpoint(path, vocab=Vocabulary(tuple("bacdefghi")))
    save_checkpoint(path, Checkpoint(1, model.state_dict()))
    with pytest.raises(CheckpointError, match="does not say which vocabulary"):
        load_checkpoint(path, vocab=vocab)


@pytest.mark.parametrize(("change", "expected"), [
    ({"hidden_size": 24}, r"\(size mismatch for rnn\.weight_ih_l0: checkpoint \[48, 6\], model \[96, 6\]\)"),
    ({"layers": 1}, r"the model has no rnn\.bias_hh_l1, rnn\.bias_ih_l1, rnn\.weight_hh_l1 and 1 more"),
    ({"layers": 3}, r"the checkpoint lacks rnn\.bias_hh_l2"),
])
def test_weights_that_do_not_fit_give_one_line(tmp_path: Path, change: dict[str, int], expected: str) -> None:
    model, _ = _trained_state()
    config = ModelConfig(**{**vars(model.config), **change})
    with pytest.raises(CheckpointError, match=expected) as raised:
        load_weights(CharRNN(config, 9), model.state_dict(), tmp_path / "best.safetensors")
    assert "\n" not in str(raised.value) and "best.safetensors does not fit the run's model" in str(raised.value)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing.safetensors")


class _Payload:
    """Unpickling this creates `marker`: what a hostile checkpoint would do with a worse command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def _hostile_files(tmp_path: Path, marker: Path) -> dict[str, bytes]:
    torch_file = tmp_path / "hostile.pt"
    torch.save({"model": _Payload(marker)}, torch_file)
    return {"pickle": pickle.dumps(_Payload(marker)), "torch.save": torch_file.read_bytes()}


def test_hostile_files_are_really_hostile(tmp_path: Path) -> None:
    """Guards the next tests: these payloads do run code when a loader unpickles them."""
    for kind, payload in _hostile_files(tmp_path, tmp_path / "control").items():
        if kind == "pickle":
            pickle.loads(payload)
        else:
            (tmp_path / "control.pt").write_bytes(payload)
            torch.load(tmp_path / "control.pt", weights_only=False)
        assert (tmp_path / "control").is_dir()
        (tmp_path / "control").rmdir()


@pytest.fixture
def tiny_run(tmp_path: Path) -> RunDir:
    corpus_path = write_text(tmp_path / "words.txt", 3000)
    corpus = open_corpus(str(corpus_path), tmp_path / "data")
    return train_run(tmp_path / "run", tiny_config(corpus_path, max_steps=4), corpus)


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_hostile_checkpoint_runs_no_code(tmp_path: Path, tiny_run: RunDir, kind: str) -> None:
    marker = tmp_path / "pwned"
    payload = _hostile_files(tmp_path, marker)[kind]
    tiny_run.latest_path.write_bytes(payload)
    tiny_run.best_path.write_bytes(payload)
    for path in (tiny_run.latest_path, tiny_run.best_path):
        with pytest.raises(CheckpointError, match="corrupt or not a tuirnn checkpoint"):
            load_checkpoint(path)
    assert not marker.exists()
    if kind != "pickle":
        return  # one command-line check is enough: the CLI loads through the same function

    result = run_cli("generate", tiny_run.path, "--prompt", "the", "--length", "20", "--seed", "1")
    line = result.error_line()
    assert result.rc == 2 and result.stdout == ""
    assert "best.safetensors is corrupt or not a tuirnn checkpoint" in line
    assert not marker.exists()


def test_truncated_checkpoint_fails_generate_and_resume_cleanly(tiny_run: RunDir,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    for path in (tiny_run.latest_path, tiny_run.best_path):
        path.write_bytes(path.read_bytes()[:300])
    assert main(["generate", str(tiny_run.path), "--checkpoint", "latest", "--length", "5", "--seed", "1"]) == 2
    generated = capsys.readouterr()
    assert generated.out == "" and "latest.safetensors is corrupt" in generated.err
    resumed = run_cli("train", "--resume", tiny_run.path, "--max-steps", "8")
    assert "training failed at step 0: checkpoint" in resumed.error_line()
    assert resumed.rc == 1 and resumed.stdout == ""


def test_run_directory_contract(tmp_path: Path, tiny_run: RunDir) -> None:
    names = {p.name for p in tiny_run.path.iterdir()}
    assert names == {"config.json", "vocab.json", "run.json", "metrics.jsonl", "latest.safetensors",
                     "best.safetensors"}
    assert tiny_run.config.model.hidden_size == 16
    assert tiny_run.info["status"] == "completed" and tiny_run.info["step"] == 4
    with pytest.raises(RunError, match="not empty"):
        RunDir.create(tiny_run.path, tiny_run.config, tiny_run.vocab, {})
    with pytest.raises(RunError, match="no run directory"):
        RunDir.open(tmp_path / "absent")
    assert [s.name for s in list_runs(tmp_path)] == ["run"]


def test_torn_metrics_line_is_skipped(tiny_run: RunDir) -> None:
    records = tiny_run.metrics()
    with open(tiny_run.path / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"step": 5, "loss": 1.')
    assert tiny_run.metrics() == records


@pytest.mark.parametrize("broken", ["vocab.json", "config.json"])
def test_damaged_run_files_are_run_errors(tmp_path: Path, tiny_run: RunDir, broken: str) -> None:
    (tiny_run.path / broken).write_text("{not json", encoding="utf-8")
    with pytest.raises(RunError, match="damaged run file"):
        RunDir.open(tiny_run.path)
    (tiny_run.path / broken).unlink()
    with pytest.raises(RunError, match=f"{broken} is missing"):
        RunDir.open(tiny_run.path)
    assert list_runs(tmp_path) == []


def test_best_falls_back_to_latest(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path / "run", tiny_config(), Vocabulary(tuple("ab")), {})
    with pytest.raises(RunError, match="no checkpoint yet"):
        run.checkpoint_for("best")
    run.latest_path.write_bytes(b"x")
    assert run.checkpoint_for("best") == run.latest_path
    run.best_path.write_bytes(b"x")
    assert run.checkpoint_for("best") == run.best_path
    with pytest.raises(RunError):
        run.checkpoint_for("worst")


_KILL_ME_DURING_SAVE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path

    signal_file = Path(sys.argv[1])
    real_replace = os.replace
    saves = []

    def slow_replace(source, target):
        # the second save of latest.safetensors: its temp file is written; tell the parent, then hang
        if Path(target).name == "latest.safetensors":
            saves.append(source)
            if len(saves) == 2:
                signal_file.write_text(str(source))
                time.sleep(300)
        real_replace(source, target)

    os.replace = slow_replace
    from tuirnn.cli import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_save_keeps_the_last_good_checkpoint(tmp_path: Path, nietzsche_path: Path) -> None:
    out = tmp_path / "run"
    signal_file = tmp_path / "saving"
    flags = tiny_flags(max_steps=20, eval_every=5)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILL_ME_DURING_SAVE, str(signal_file), "train", "--corpus", str(nietzsche_path),
         *flags, "--out", str(out)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while not signal_file.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never reached its second save"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    temp = Path(signal_file.read_text())
    assert temp.exists() and temp.parent == out  # killed with the new checkpoint half-installed

    run = RunDir.open(out)  # readers are not disturbed by the temp file (only the resuming writer clears it)
    checkpoint = load_checkpoint(run.latest_path)
    assert checkpoint.step == 5
    assert all(torch.isfinite(t).all() for t in checkpoint.model.values())
    assert run.info["status"] == "running"

    resumed = run_cli("train", "--resume", out)
    assert resumed.rc == 0, resumed.stderr
    assert "completed at step 20" in resumed.stdout
    final = RunDir.open(out)
    assert final.info["status"] == "completed" and load_checkpoint(final.latest_path).step == 20
    steps = [r["step"] for r in final.metrics() if "loss" in r]
    assert steps == list(range(1, 21))
    assert not temp.exists() and not list(out.glob(".*partial"))
