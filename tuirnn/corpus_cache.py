"""The corpus cache: a text's encoded ids and vocabulary in data/cache, checked on every read, bounded in size.

A cache file only saves an encoding, so one that fails any check is never used (the text is encoded again and
the file replaced), and a write that cannot happen is skipped. A checksum over everything a read returns ties
the file to the text it was made from: a flipped byte anywhere gives a mismatch, not wrong ids.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuirnn.atomic import TEMP_SUFFIX, atomic_write_bytes

FORMAT = "tuirnn-corpus-cache/2"
MAX_CACHE_BYTES = 1 << 30
"""Cache files past this total are evicted, least recently used first."""
_DIGEST_CHARS = 24
_CACHE_NAME = re.compile(rf"(\.)?[0-9a-f]{{{_DIGEST_CHARS}}}\.safetensors(?(1)\..+{re.escape(TEMP_SUFFIX)})")
"""A cache file, or the temp file of one being written (atomic.py's `.<name>.<random>.partial`)."""


def cache_path(cache_dir: Path, text_sha256: str) -> Path:
    return Path(cache_dir) / f"{text_sha256[:_DIGEST_CHARS]}.safetensors"


def _checksum(text_sha256: str, ids: np.ndarray, vocab_json: str) -> str:
    """sha256 over what a read hands back, the ids' type and shape included (the same bytes read as int8
    instead of uint8 would be other ids)."""
    digest = hashlib.sha256(f"{FORMAT}\n{text_sha256}\n{ids.dtype.str}\n{ids.shape}\n".encode())
    digest.update(vocab_json.encode())
    digest.update(np.ascontiguousarray(ids).data)
    return digest.hexdigest()


def read_cached(path: Path, text_sha256: str) -> tuple[np.ndarray, str] | None:
    """The ids and vocabulary JSON cached for the text with this sha256; None when absent or damaged."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as cached:
            metadata = cached.metadata() or {}
            ids = cached.get_tensor("ids")
        vocab_json = metadata["vocab"]
        if metadata.get("format") != FORMAT or metadata.get("text_sha256") != text_sha256 or ids.ndim != 1:
            return None
        if metadata.get("checksum") != _checksum(text_sha256, ids, vocab_json):
            return None
    except (OSError, KeyError, TypeError, ValueError, SafetensorError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: evicted last
    return ids, vocab_json


def write_cached(path: Path, text_sha256: str, ids: np.ndarray, vocab_json: str,
                 max_bytes: int = MAX_CACHE_BYTES) -> None:
    """Cache the encoding, then evict the least recently used other files until the cache fits `max_bytes`."""
    from safetensors.numpy import save

    metadata = {"format": FORMAT, "text_sha256": text_sha256, "vocab": vocab_json,
                "checksum": _checksum(text_sha256, ids, vocab_json)}
    payload = save({"ids": ids}, metadata=metadata)
    if len(payload) > max_bytes:
        return
    try:
        atomic_write_bytes(path, payload)
        _evict(Path(path).parent, keep=Path(path), max_bytes=max_bytes)
    except OSError:
        pass  # a read-only or full disk only costs the next load an encoding


@dataclass(frozen=True)
class _CacheFile:
    path: Path
    size: int
    used: float


def _cache_files(cache_dir: Path) -> list[_CacheFile]:
    """Regular files named like ours, oldest first; symlinks and anything else are left alone."""
    found = []
    with os.scandir(cache_dir) as entries:
        for entry in entries:
            if _CACHE_NAME.fullmatch(entry.name):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode):
                    found.append(_CacheFile(Path(entry.path), info.st_size, info.st_mtime))
    return sorted(found, key=lambda f: f.used)


def _evict(cache_dir: Path, keep: Path, max_bytes: int) -> None:
    files = _cache_files(cache_dir)
    total = sum(f.size for f in files)
    for old in files:
        if total <= max_bytes:
            return
        if old.path != keep:
            with contextlib.suppress(FileNotFoundError):  # another process evicted it first
                old.path.unlink()
            total -= old.size


@dataclass(frozen=True)
class Cleaned:
    files: int
    bytes: int


def clean_cache(cache_dir: Path) -> Cleaned:
    """Delete our cache files (and temp files of interrupted writes) in `cache_dir`, then the directory if that
    leaves it empty. A symlinked cache directory is refused rather than cleaned through."""
    cache_dir = Path(cache_dir)
    if cache_dir.is_symlink():
        raise OSError(f"{cache_dir} is a symbolic link; not cleaning through it")
    if not cache_dir.exists():
        return Cleaned(0, 0)
    files = _cache_files(cache_dir)
    for old in files:
        with contextlib.suppress(FileNotFoundError):
            old.path.unlink()
    with contextlib.suppress(OSError):
        cache_dir.rmdir()  # fails when something that is not ours is left in it
    return Cleaned(len(files), sum(f.size for f in files))
