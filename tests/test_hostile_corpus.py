"""Hostile inputs for corpora: servers that lie, drip or never stop, mirrors that differ, files that are not
files, damaged caches and unusable data directories. Each ends fast, in one line, with nothing replaced."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import socket
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import make_text, run_cli, tiny_flags

from tuirnn import corpus as corpus_module
from tuirnn import corpus_cache
from tuirnn.catalog import CATALOG, DownloadError, NamedCorpus, fetch, open_corpus
from tuirnn.cli import main
from tuirnn.corpus import CorpusError, encode_text, text_sha256

BODY = make_text(20_000).encode()
ENDLESS_CHUNK = b"all work and no play " * 3000


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    """/good serves BODY; /drip announces it and sends a byte every 0.1 s; /silent sends nothing; /endless
    sends without a length and without end; /huge announces a terabyte. Each loop ends when the client goes
    away or the test ends, and also, so that a client that fails to stop fails its test instead of hanging it or
    filling the memory, after 3 s of dripping or 200 MB of endless body."""

    stop: threading.Event

    def do_GET(self) -> None:
        try:
            if self.path == "/good":
                self._headers(len(BODY))
                self.wfile.write(BODY)
            elif self.path == "/drip":
                self._headers(len(BODY))
                for byte in BODY[:30]:
                    if self.stop.wait(0.1):
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            elif self.path == "/silent":
                self.stop.wait(30)
            elif self.path == "/endless":
                self._headers(None)
                for _ in range(200_000_000 // len(ENDLESS_CHUNK)):
                    if self.stop.is_set():
                        break
                    self.wfile.write(ENDLESS_CHUNK)
            elif self.path == "/huge":
                self._headers(10**12)
            else:
                self.send_error(404)
        except OSError:  # the client gave up: that is the point
            pass

    def _headers(self, length: int | None) -> None:
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Base URL of a hostile server on 127.0.0.1, and the corpus "hostile" (BODY, no pinned sha256) in the catalog."""
    stop = threading.Event()
    handler = type("Handler", (_HostileHandler,), {"stop": stop})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    monkeypatch.setitem(CATALOG, "hostile", NamedCorpus("hostile", f"{base}/good", "test text", None,
                                                        len(BODY) - 100, len(BODY) + 100))
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    yield base
    stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.fixture
def installed(hostile: str, tmp_path: Path) -> Path:
    """A good, verified copy of "hostile" in tmp_path/data."""
    return fetch("hostile", tmp_path / "data", f"{hostile}/good")


# ----- downloads ---------------------------------------------------------------------------------------------
def test_drip_feed_gives_up_at_the_deadline(hostile: str, installed: Path) -> None:
    """A byte every 0.1 s never trips a per-read timeout; the overall deadline ends it."""
    before = _snapshot(installed)
    received: list[int] = []
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"download of hostile gave up: not finished within its deadline of 1 s"):
        fetch("hostile", installed.parent, f"{hostile}/drip", progress=lambda done, _: received.append(done),
              deadline_s=1.0)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 4  # the server would drip for minutes: only the deadline ends it this soon
    assert len(received) >= 3  # bytes kept coming: only the deadline could stop it
    assert _snapshot(installed) == before


def test_silent_server_gives_up_at_the_deadline(hostile: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadError, match="deadline of 0.5 s"):
        fetch("hostile", tmp_path / "data", f"{hostile}/silent", deadline_s=0.5, timeout_s=30)
    assert time.monotonic() - started < 4  # well before the 30 s read timeout
    assert not (tmp_path / "data").exists()


def test_endless_body_is_refused_at_the_cap_in_bounded_memory(hostile: str, installed: Path) -> None:
    before = _snapshot(installed)
    cap = CATALOG["hostile"].max_bytes
    tracemalloc.start()
    try:
        with pytest.raises(DownloadError, match=f"download of hostile refused: more than the {cap:,} bytes"):
            fetch("hostile", installed.parent, f"{hostile}/endless", deadline_s=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap  # the body, one copy and the server's chunk; unbounded it grows ~1 GB/s
    assert _snapshot(installed) == before


def test_announced_size_past_the_cap_is_refused_before_reading(hostile: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadError, match="the server announces 1,000,000,000,000 bytes"):
        fetch("hostile", tmp_path / "data", f"{hostile}/huge")
    assert time.monotonic() - started < 4  # at once, before any body is read


def test_unexpected_error_while_receiving_ends_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(urllib.request, "urlopen", broken)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="download of nietzsche failed: RuntimeError: something unforeseen"):
        fetch("nietzsche", tmp_path / "data", deadline_s=30)
    assert time.monotonic() - started < 4  # at once, not at the 30 s deadline


def test_first_download_is_recorded_and_a_different_one_refused(hostile: str, tmp_path: Path) -> None:
    """Trust on first use: the unpinned corpus's first verified copy fixes its sha256."""
    data_dir = tmp_path / "data"
    target = fetch("hostile", data_dir, f"{hostile}/good")
    recorded = json.loads((data_dir / "checksums.json").read_text())
    assert recorded == {"hostile": hashlib.sha256(BODY).hexdigest()}

    mirror = tmp_path / "mirror.txt"
    mirror.write_bytes(BODY.replace(b"\n", b"\r\n"))  # same text, other line endings: other bytes
    before = _snapshot(target)
    with pytest.raises(DownloadError, match="differs from the first copy trusted here.*--force"):
        fetch("hostile", data_dir, mirror.as_uri())
    assert _snapshot(target) == before
    assert json.loads((data_dir / "checksums.json").read_text()) == recorded

    fetch("hostile", data_dir, mirror.as_uri(), force=True)
    assert target.read_bytes() == mirror.read_bytes()
    assert json.loads((data_dir / "checksums.json").read_text()) == {"hostile": hashlib.sha256(mirror.read_bytes())
                                                                    .hexdigest()}
    fetch("hostile", data_dir, mirror.as_uri())  # the forced copy is the trusted one now


def test_copy_on_disk_before_checksums_were_recorded_is_trusted(hostile: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "hostile.txt").write_bytes(BODY)
    mirror = tmp_path / "mirror.txt"
    mirror.write_bytes(BODY.replace(b"the", b"The"))
    with pytest.raises(DownloadError, match="differs from the first copy trusted here"):
        fetch("hostile", data_dir, mirror.as_uri())
    assert (data_dir / "hostile.txt").read_bytes() == BODY
    assert not (data_dir / "checksums.json").exists()


def test_damaged_copy_on_disk_is_no_reason_to_refuse(hostile: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "hostile.txt").write_bytes(BODY[:500])
    fetch("hostile", data_dir, f"{hostile}/good")
    assert (data_dir / "hostile.txt").read_bytes() == BODY


def test_damaged_checksum_record_is_refused(hostile: str, installed: Path) -> None:
    (installed.parent / "checksums.json").write_text('{"hostile": "not a digest"}')
    before = _snapshot(installed)
    with pytest.raises(DownloadError, match="checksums.json is damaged; delete it"):
        fetch("hostile", installed.parent, f"{hostile}/good")
    assert _snapshot(installed) == before


@pytest.mark.parametrize(("damage", "message"), [
    (lambda body: body[:1000], "1,000 characters, expected"),
    (lambda body: body[:5000] + b"\xff" + body[5001:], "not valid UTF-8 at byte offset 5000"),
])
def test_mirror_that_is_not_the_text_is_refused(
    hostile: str, installed: Path, tmp_path: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    mirror = tmp_path / "mirror.txt"
    mirror.write_bytes(damage(BODY))
    before = _snapshot(installed)
    with pytest.raises(DownloadError, match=message):
        fetch("hostile", installed.parent, mirror.as_uri(), force=True)  # force skips only the trust check
    assert _snapshot(installed) == before


def test_cli_fetch_refusal_is_one_line_and_force_accepts(
    hostile: str, installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "mirror.txt"
    mirror.write_bytes(BODY.replace(b"\n", b"\r\n"))
    data = ["--data-dir", str(installed.parent), "data", "fetch", "hostile", "--url", mirror.as_uri()]
    assert main(data) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tuirnn: error: download of hostile is not the expected text: it differs")
    assert line.endswith("fetch it again with --force")
    assert main([*data, "--force"]) == 0
    assert capsys.readouterr().out == f"hostile saved to {installed}\n"


@pytest.mark.parametrize(("flags", "rc", "message"), [
    (["--url", "ftp://127.0.0.1/x"], 2, "the URL must start with http://, https://, file://"),
    (["--deadline", "0"], 2, "--deadline must be more than 0"),
    (["--url", "file:///dev/zero"], 1, "download of hostile refused: more than the"),
])
def test_cli_fetch_bad_input_and_endless_file(
    hostile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], rc: int, message: str
) -> None:
    assert main(["--data-dir", str(tmp_path / "data"), "data", "fetch", "hostile", *flags]) == rc
    [line] = capsys.readouterr().err.splitlines()
    assert message in line
    assert not (tmp_path / "data").exists()


# ----- corpus files that are not regular files -----------------------------------------------------------------
def _release_fifo_after(fifo: Path, seconds: float) -> threading.Timer:
    """Opens the FIFO's write end later, so that code wrongly blocked opening it fails the test, not hangs it."""
    def release() -> None:
        with contextlib.suppress(OSError):  # nobody was blocked on it
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(seconds, release)
    timer.start()
    return timer


def test_fifo_corpus_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    timer = _release_fifo_after(fifo, 5)
    started = time.monotonic()
    try:
        with pytest.raises(CorpusError, match=r"corpus.txt is a named pipe \(FIFO\), not a text file"):
            open_corpus(str(fifo), tmp_path / "data")
    finally:
        timer.cancel()
    assert time.monotonic() - started < 4  # at once: a blocked read would wait for the 5 s timer or more


def test_fifo_swapped_in_after_the_check_does_not_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is checked again once opened (without blocking), in case it changed since the first check."""
    regular = tmp_path / "regular.txt"
    regular.write_text("text")
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    real_stat = os.stat
    def stat_before_the_swap(path: Path, **kwargs: bool) -> os.stat_result:
        return real_stat(regular if path == fifo else path, **kwargs)

    monkeypatch.setattr(os, "stat", stat_before_the_swap)
    timer = _release_fifo_after(fifo, 5)
    started = time.monotonic()
    try:
        with pytest.raises(CorpusError, match="is a named pipe"):
            corpus_module.read_text(fifo)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 4  # at once: a blocked read would wait for the 5 s timer or more


def test_fifo_corpus_from_the_command_line_is_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "corpus.txt"
    os.mkfifo(fifo)
    result = run_cli("train", "--corpus", fifo, "--dry-run", timeout=20)  # a hang fails here, after 20 s
    assert result.error_line() == f"tuirnn: error: {fifo} is a named pipe (FIFO), not a text file"
    assert result.rc == 2


@pytest.mark.parametrize(("make", "kind"), [
    (lambda tmp: Path("/dev/zero"), "a character device"),
    (lambda tmp: tmp, "a directory"),
    (lambda tmp: _bound_socket(tmp / "s"), "a socket"),
])
def test_special_files_are_refused_at_once(tmp_path: Path, make: Callable[[Path], Path], kind: str) -> None:
    path = make(tmp_path)
    started = time.monotonic()
    with pytest.raises(CorpusError, match=f"{path} is {kind}, not a text file"):
        open_corpus(str(path), tmp_path / "data")
    assert time.monotonic() - started < 4  # at once: a blocked read would wait for the 5 s timer or more


def _bound_socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


def test_corpus_past_the_size_limit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(2000))
    monkeypatch.setenv("TUIRNN_MAX_CORPUS_BYTES", "1999")
    monkeypatch.setattr(corpus_module, "decode_bytes", lambda *a, **k: pytest.fail("read past the limit"))
    assert main(["data", "info", str(path)]) == 2
    assert capsys.readouterr().err == (f"tuirnn: error: {path} is 2,000 bytes, more than the corpus limit of 1,999; "
                                       "set TUIRNN_MAX_CORPUS_BYTES to a larger number of bytes to read it\n")


def test_corpus_size_limit_is_inclusive_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(2000))
    monkeypatch.setenv("TUIRNN_MAX_CORPUS_BYTES", "2000")
    assert len(open_corpus(str(path), tmp_path / "data")) == 2000
    monkeypatch.setenv("TUIRNN_MAX_CORPUS_BYTES", "2GB")
    with pytest.raises(CorpusError, match="TUIRNN_MAX_CORPUS_BYTES='2GB' is not a positive whole number of bytes"):
        open_corpus(str(path), tmp_path / "data")


def test_read_stops_at_the_size_the_file_had_when_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that grows while it is read (or reports a wrong size) is refused, not read without end."""
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(5000))
    real_fstat = os.fstat

    def shrunk(fd: int) -> os.stat_result:
        info = list(real_fstat(fd))
        info[6] = 100  # st_size
        return os.stat_result(info)

    monkeypatch.setattr(os, "fstat", shrunk)
    with pytest.raises(CorpusError, match="grew while it was read"):
        corpus_module.read_text(path)


# ----- damaged cache ------------------------------------------------------------------------------------------
def test_no_single_damaged_byte_of_a_cache_file_is_used(tmp_path: Path) -> None:
    text = "Beyond good and evil: what then? " * 10
    ids, vocab = encode_text(text)
    path = corpus_cache.cache_path(tmp_path, text_sha256(text))
    corpus_cache.write_cached(path, text_sha256(text), ids, vocab.to_json())
    good = path.read_bytes()
    assert corpus_cache.read_cached(path, text_sha256(text)) is not None
    accepted = []
    for offset in range(len(good)):
        damaged = bytearray(good)
        damaged[offset] ^= 0x01
        path.write_bytes(damaged)
        if corpus_cache.read_cached(path, text_sha256(text)) is not None:
            accepted.append(offset)
    assert accepted == []
    assert corpus_cache.read_cached(path, text_sha256("another text")) is None


def test_damaged_cache_is_re_encoded_to_the_right_ids(
    shakespeare_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    reference = open_corpus(str(shakespeare_path), data_dir)
    [cache] = (data_dir / "cache").glob("*.safetensors")
    raw = bytearray(cache.read_bytes())
    raw[-1000] = (raw[-1000] + 1) % len(reference.vocab)  # still a valid id, just the wrong one
    cache.write_bytes(raw)

    reloaded = open_corpus(str(shakespeare_path), data_dir)
    assert np.array_equal(reloaded.ids, reference.ids) and reloaded.vocab == reference.vocab
    assert cache.read_bytes() != raw  # replaced by a good one
    assert corpus_cache.read_cached(cache, reference.sha256) is not None

    cache.write_bytes(raw)
    assert main(["--data-dir", str(data_dir), "data", "info", str(shakespeare_path)]) == 0
    assert capsys.readouterr().err == ""


# ----- data clean and unusable data directories ---------------------------------------------------------------
def test_data_clean_deletes_only_our_cache_files(
    shakespeare_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    open_corpus(str(shakespeare_path), data_dir)
    cache_dir = data_dir / "cache"
    [ours] = cache_dir.glob("*.safetensors")
    stale_temp = cache_dir / f".{ours.name}.x1y2.partial"
    stale_temp.write_bytes(b"half")
    outside = tmp_path / "precious.safetensors"
    outside.write_bytes(b"not ours")
    link = cache_dir / f"{'0' * 24}.safetensors"
    link.symlink_to(outside)
    notes = cache_dir / "notes.txt"
    notes.write_text("mine")

    assert main(["--data-dir", str(data_dir), "data", "clean"]) == 0
    assert capsys.readouterr().out.startswith(f"removed 2 cache files (1.1 MiB) from {cache_dir}")
    assert sorted(p.name for p in cache_dir.iterdir()) == [link.name, "notes.txt"]
    assert outside.read_bytes() == b"not ours"

    link.unlink()
    notes.unlink()
    open_corpus(str(shakespeare_path), data_dir)
    assert main(["--data-dir", str(data_dir), "data", "clean"]) == 0
    assert not cache_dir.exists()
    assert main(["--data-dir", str(data_dir), "data", "clean"]) == 0
    assert "removed 0 cache files" in capsys.readouterr().out


def test_data_clean_does_not_follow_a_symlinked_cache_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / f"{'a' * 24}.safetensors"
    victim.write_bytes(b"someone else's")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cache").symlink_to(elsewhere)
    assert main(["--data-dir", str(tmp_path / "data"), "data", "clean"]) == 2
    assert "is a symbolic link; not cleaning through it" in capsys.readouterr().err
    assert victim.exists()


@pytest.mark.parametrize("command", [["data", "fetch", "hostile"], ["train", "--corpus", "hostile", "--dry-run"],
                                     ["data", "clean"]])
def test_data_dir_that_is_a_file_is_one_line(
    hostile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("a file")
    assert main(["--data-dir", str(not_a_dir), *command]) == 2
    assert capsys.readouterr().err == f"tuirnn: error: data directory {not_a_dir} is not a directory\n"


@pytest.fixture
def read_only_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Writes into tmp_path/data fail with EACCES. Simulated: tests may run as root, which permissions don't stop."""
    data_dir = (tmp_path / "data").resolve()
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: object, dir: str | None = None, **kwargs: object) -> tuple[int, str]:
        if dir is not None and Path(dir).resolve().is_relative_to(data_dir):
            raise PermissionError(13, "Permission denied", dir)
        return real_mkstemp(*args, dir=dir, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return data_dir


def test_download_into_a_read_only_data_dir_is_one_line(
    hostile: str, installed: Path, read_only_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(installed)
    assert main(["--data-dir", str(read_only_data), "data", "fetch", "hostile", "--url", f"{hostile}/good"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tuirnn: error: download of hostile failed: [Errno 13] Permission denied")
    assert _snapshot(installed) == before


def test_training_from_a_named_corpus_with_an_unwritable_cache_works(
    hostile: str, installed: Path, read_only_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data-dir", str(read_only_data), "train", "--corpus", "hostile", "--out", str(tmp_path / "run"),
            *tiny_flags(max_steps=2)]
    assert main(args) == 0, capsys.readouterr().err
    assert not any((read_only_data / "cache").iterdir())  # the directory is made before the write fails
    assert (tmp_path / "run").is_dir()

