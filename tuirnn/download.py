"""Bounded downloads: one overall deadline and a size cap, whatever the server does.

A socket timeout only bounds each read, so a server that sends a byte every few seconds never trips it. The
body is therefore received on a helper thread while the caller waits for it against one deadline (which also
covers name lookup, connecting and the headers), and receiving stops as soon as the body passes the cap.
Progress is reported on the caller's thread, and never after `download` has returned or raised.
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

from tuirnn.corpus import CorpusError

ProgressCallback = Callable[[int, "int | None"], None]
SCHEMES = ("http", "https", "file")
CHUNK_BYTES = 1 << 16


class DownloadError(CorpusError):
    """A download failed; nothing was left behind."""

    exit_code = 1


@dataclass(frozen=True)
class _Received:
    done: int
    total: int | None


@dataclass(frozen=True)
class _Finished:
    body: bytes


@dataclass(frozen=True)
class _Failed:
    message: str


_Event = _Received | _Finished | _Failed


def check_url(url: str) -> None:
    """Bad input (exit 2), told apart from a failed download (exit 1) before anything is sent."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise CorpusError(f"cannot download {url!r}: the URL must start with {', '.join(s + '://' for s in SCHEMES)}")


def download(
    url: str,
    label: str,
    max_bytes: int,
    deadline_s: float,
    timeout_s: float,
    progress: ProgressCallback | None = None,
) -> bytes:
    """The body at `url`, or DownloadError (messages start with `label`) past `deadline_s` seconds in all, past
    `max_bytes` bytes, or when a read waits longer than `timeout_s`."""
    check_url(url)
    events: queue.SimpleQueue[_Event] = queue.SimpleQueue()
    stop = threading.Event()
    receiver = threading.Thread(target=_receive, args=(url, label, max_bytes, min(timeout_s, deadline_s), events, stop),
                                name=f"tuirnn {label}", daemon=True)
    deadline = time.monotonic() + deadline_s
    receiver.start()
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = events.get(timeout=remaining)
            except queue.Empty:
                break
            if isinstance(event, _Finished):
                return event.body
            if isinstance(event, _Failed):
                raise DownloadError(event.message)
            if progress:
                progress(event.done, event.total)
        raise DownloadError(f"{label} gave up: not finished within its deadline of {deadline_s:g} s ({url})")
    finally:
        stop.set()  # the receiver closes the connection at its next read; it holds at most max_bytes meanwhile


def _receive(url: str, label: str, max_bytes: int, timeout_s: float, events: queue.SimpleQueue[_Event],
             stop: threading.Event) -> None:
    try:
        events.put(_Finished(_read_body(url, label, max_bytes, timeout_s, events, stop)))
    except DownloadError as exc:
        events.put(_Failed(str(exc)))
    except urllib.error.HTTPError as exc:
        events.put(_Failed(f"{label} failed: HTTP {exc.code} {exc.reason} from {url}"))
    except urllib.error.URLError as exc:
        events.put(_Failed(f"{label} failed: {exc.reason} ({url})"))
    except http.client.HTTPException as exc:  # e.g. IncompleteRead: the connection dropped mid-chunk
        events.put(_Failed(f"{label} failed: {type(exc).__name__} ({url})"))
    except (OSError, ValueError) as exc:
        events.put(_Failed(f"{label} failed: {exc} ({url})"))
    except Exception as exc:  # noqa: BLE001  (uncaught, it would print a traceback and leave the caller waiting)
        events.put(_Failed(f"{label} failed: {type(exc).__name__}: {exc} ({url})"))


def _read_body(url: str, label: str, max_bytes: int, timeout_s: float, events: queue.SimpleQueue[_Event],
               stop: threading.Event) -> bytes:
    body = bytearray()
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        total = _content_length(response.headers)
        if total is not None and total > max_bytes:
            raise DownloadError(f"{label} refused: the server announces {total:,} bytes, more than the "
                                f"{max_bytes:,} this corpus can take ({url})")
        # read1 returns what has arrived instead of waiting for a full chunk, so `stop` is seen promptly
        while chunk := response.read1(min(CHUNK_BYTES, max_bytes + 1 - len(body))):
            if stop.is_set():
                return b""  # the caller has given up and waits for nothing
            body += chunk
            if len(body) > max_bytes:
                raise DownloadError(f"{label} refused: more than the {max_bytes:,} bytes this corpus can take "
                                    f"({url})")
            events.put(_Received(len(body), total))
    if total is not None and len(body) != total:
        raise DownloadError(f"{label} was cut short ({len(body):,} of {total:,} bytes)")
    return bytes(body)


def _content_length(headers: Message) -> int | None:
    """The announced size; file:// responses announce it too, chunked HTTP responses do not."""
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
