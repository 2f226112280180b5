"""Paths built from names, or read from files, stay inside the directory they belong to.

A run name, a sweep's trial id or a directory named in a JSON file is untrusted: `root / "../x"` climbs
out of `root`, `root / "/abs"` drops `root` altogether, and a symlink planted inside a run points anywhere.
Every such path is built here, and every write through one is opened without following a final symlink.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuirnn.errors import TuirnnError

MAX_NAME_BYTES = 255
"""The longest file name the usual file systems accept."""


class PathError(TuirnnError):
    """A name or path would leave its directory, or is not a plain name."""


def check_name(name: str, what: str = "name") -> str:
    """`name` itself, if it is one plain, visible file name; otherwise a PathError saying why not."""
    if not isinstance(name, str) or not name.strip():
        raise PathError(f"{what} is empty")
    if name in (".", ".."):
        raise PathError(f"{what} {name!r} is not a name")
    if "/" in name or "\\" in name or os.sep in name or (os.altsep and os.altsep in name):
        raise PathError(f"{what} {name!r} must be a plain name, without path separators")
    if name.startswith("."):
        raise PathError(f"{what} {name!r} must not start with '.' (hidden files hold locks and temporary files)")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise PathError(f"{what} {name!r} contains control characters")
    if len(name.encode("utf-8", errors="surrogateescape")) > MAX_NAME_BYTES:
        raise PathError(f"{what} is longer than {MAX_NAME_BYTES} bytes")
    return name


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path`, with every symlink resolved, is `root` or below it."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return real == real_root or real_root in real.parents


def confined(root: Path, path: Path, what: str = "path") -> Path:
    """`path` if it resolves inside `root`; a PathError otherwise (`..`, an absolute path, a symlink out)."""
    if not is_inside(root, path):
        raise PathError(f"{what} {str(path)!r} is outside {root}")
    return Path(path)


def safe_child(root: Path, name: str, what: str = "name") -> Path:
    """`root / name` for a plain `name` whose result stays in `root` (a symlink named `name` may not lead out)."""
    return confined(root, Path(root) / check_name(name, what), what)


def open_no_follow(path: Path, flags: int, mode: int = 0o644) -> int:
    """`os.open` that refuses a symlink as the last component: a link planted in a run directory (a lock
    file, a log) cannot redirect a write, or a truncation, to a file elsewhere."""
    try:
        return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if Path(path).is_symlink():
            raise PathError(f"{path} is a symbolic link; refusing to write through it") from None
        raise exc
