"""`tuirnn data fetch` against a local HTTP server on 127.0.0.1: verified, atomic, nothing left on failure."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_cli

from tuirnn.catalog import CATALOG, DownloadError, fetch, open_corpus
from tuirnn.cli import main


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /good serves the corpus, /corrupt a damaged copy, /truncated and /chunked-truncated stop
    early, anything else is a 404."""

    body = b""

    def do_GET(self) -> None:
        body = self.body
        if self.path == "/good":
            self._send(body, len(body))
        elif self.path == "/corrupt":
            middle = len(body) // 2
            self._send(body[:middle] + bytes([body[middle] ^ 0x20]) + body[middle + 1:], len(body))
        elif self.path == "/truncated":
            self._send(body[: len(body) // 3], len(body))
        elif self.path == "/chunked-truncated":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = body[:50_000]
            self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            self.wfile.write(b"%x\r\n" % 50_000 + body[50_000:60_000])  # a chunk cut off mid-way
            self.close_connection = True
        else:
            self.send_error(404, "Not Found")

    def _send(self, payload: bytes, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(shakespeare_path: Path) -> Iterator[str]:
    """Base URL of a server on 127.0.0.1 serving ../shared/corpora/tinyshakespeare.txt."""
    handler = type("Handler", (_Handler,), {"body": shakespeare_path.read_bytes()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*")) if directory.exists() else []


def test_fetch_verifies_and_installs(server: str, tmp_path: Path, shakespeare_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = run_cli("--data-dir", data_dir, "data", "fetch", "tinyshakespeare", "--url", f"{server}/good")
    assert result.rc == 0, result.stderr
    target = data_dir / "tinyshakespeare.txt"
    assert f"saved to {target}" in result.stdout
    assert _files(data_dir) == ["tinyshakespeare.txt"]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == CATALOG["tinyshakespeare"].sha256
    assert target.read_bytes() == shakespeare_path.read_bytes()

    corpus = open_corpus("tinyshakespeare", data_dir)
    assert corpus.name == "tinyshakespeare" and corpus.source == str(target)
    assert len(corpus) == 1_115_394 and len(corpus.vocab) == 65

    listed = run_cli("--data-dir", data_dir, "data", "list")
    assert listed.rc == 0
    [line] = [line for line in listed.stdout.splitlines() if line.startswith("tinyshakespeare")]
    assert "downloaded" in line and "not downloaded" not in line

    plan = run_cli("--data-dir", data_dir, "train", "--corpus", "tinyshakespeare", "--dry-run")
    assert plan.rc == 0, plan.stderr
    assert "corpus: tinyshakespeare (1,115,394 chars, 65 distinct)" in plan.stdout


@pytest.mark.parametrize(("route", "message"), [
    ("/corrupt", "checksum mismatch"),
    ("/missing.txt", "HTTP 404"),
    ("/truncated", "cut short"),
    ("/chunked-truncated", "download of tinyshakespeare failed"),
    (None, "refused"),
])
def test_failed_fetch_leaves_nothing(server: str, tmp_path: Path, route: str | None, message: str) -> None:
    data_dir = tmp_path / "data"
    url = f"{server}{route}" if route else f"http://127.0.0.1:{_closed_port()}/tinyshakespeare.txt"
    result = run_cli("--data-dir", data_dir, "data", "fetch", "tinyshakespeare", "--url", url)
    line = result.error_line()
    assert result.rc == 1
    assert line.startswith("tuirnn: error: download of tinyshakespeare")
    assert message in line
    assert _files(data_dir) == []


def test_failed_fetch_keeps_an_earlier_download(server: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    good = fetch("tinyshakespeare", data_dir, f"{server}/good")
    before = good.read_bytes()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch("tinyshakespeare", data_dir, f"{server}/corrupt")
    assert good.read_bytes() == before
    assert _files(data_dir) == ["tinyshakespeare.txt"]


def test_write_failure_leaves_no_partial_file(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file goes through a temp file that is removed when the write fails before the rename."""
    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(DownloadError, match="No space left on device"):
        fetch("tinyshakespeare", tmp_path / "data", f"{server}/good")
    assert _files(tmp_path / "data") == []


def test_stale_temp_from_a_killed_download_is_removed(server: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / ".tinyshakespeare.txt.x1y2z3.partial").write_bytes(b"half a file")
    progress: list[tuple[int, int | None]] = []
    fetch("tinyshakespeare", data_dir, f"{server}/good", progress=lambda done, total: progress.append((done, total)))
    assert _files(data_dir) == ["tinyshakespeare.txt"]
    assert progress[-1] == (1_115_394, 1_115_394)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_fetch_from_a_file_url(tmp_path: Path, shakespeare_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file:// mirror (a copy on a shared disk) is checked like any other."""
    data_dir = tmp_path / "data"
    assert main(["--data-dir", str(data_dir), "data", "fetch", "tinyshakespeare", "--url",
                 shakespeare_path.as_uri()]) == 0
    assert capsys.readouterr().out == f"tinyshakespeare saved to {data_dir / 'tinyshakespeare.txt'}\n"
    assert (data_dir / "tinyshakespeare.txt").read_bytes() == shakespeare_path.read_bytes()
    assert not (data_dir / "checksums.json").exists()  # a pinned sha256 needs no record


def test_unknown_corpus_name_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("--data-dir", tmp_path / "data", "data", "fetch", "moby-dick")
    assert "unknown corpus 'moby-dick'" in result.error_line()
    assert result.rc == 2
    assert _files(tmp_path / "data") == []
