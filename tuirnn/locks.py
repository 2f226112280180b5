"""Advisory file locks that say who writes a run or a sweep, and whether that writer is still alive.

The kernel drops a `flock` when its process dies, however it dies (SIGKILL, power loss aside), so a held
lock is the one trustworthy sign of a live writer: a status field that says "running" may be a leftover.
A holder that lets go removes the file while it still holds the lock; a process that locked the removed
file meanwhile sees that it is no longer at the path and locks the new one, so two never both hold it.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from tuirnn.paths import open_no_follow

try:
    import fcntl
except ImportError:  # not POSIX: no locks, every probe says "not held"
    fcntl = None  # type: ignore[assignment]

RETRY_S = 0.5
"""How long `acquire` retries: another process's `is_held` probe holds the lock for a moment."""


class LockBusy(Exception):
    """Another live process holds the lock."""


class FileLock:
    """An exclusive lock on `path`, created (without following a symlink) if missing. While held, the file
    names the holder (`pid host`) for people and tools that look."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: float | None = RETRY_S) -> None:
        """Take the lock, waiting up to `wait` seconds for its holder to let go (None: as long as it takes);
        LockBusy after that."""
        if self._fd is not None or fcntl is None:
            return
        deadline = math.inf if wait is None else time.monotonic() + wait
        while True:
            fd = open_no_follow(self.path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise LockBusy(str(self.path)) from None
                time.sleep(0.02)
                continue
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed the file as it let go: lock the one at the path now
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let go, removing the file first (while still locked), so a clean stop leaves nothing behind."""
        if self._fd is not None:
            if _same_file(self._fd, self.path):
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (a holder unlinks it on release)."""
    try:
        on_disk = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def is_held(path: Path) -> bool:
    """Whether a live process (this one included) holds the lock at `path`."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # also drops the shared lock taken above
    return False
