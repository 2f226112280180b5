"""Where corpora come from: named downloadable corpora, the offline default, or a local file."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tuirnn.atomic import atomic_write_bytes, remove_stale_temps
from tuirnn.corpus import (
    Corpus,
    CorpusError,
    corpus_from_text,
    decode_bytes,
    read_bytes,
    read_text,
)
from tuirnn.corpus_cache import Cleaned, clean_cache
from tuirnn.download import (
    DownloadError as DownloadError,  # re-exported: what fetch raises
)
from tuirnn.download import ProgressCallback, download

OFFLINE_NAME = "python-docs"
DEFAULT_ALIASES = ("default", OFFLINE_NAME)


@dataclass(frozen=True)
class NamedCorpus:
    name: str
    url: str
    description: str
    sha256: str | None
    """Exact checksum where the served file is stable; None where only size and decoding are checked."""
    min_chars: int
    max_chars: int

    @property
    def filename(self) -> str:
        return f"{self.name}.txt"

    @property
    def max_bytes(self) -> int:
        """The most bytes a good copy can have: UTF-8 takes at most four a character."""
        return 4 * self.max_chars


CATALOG: dict[str, NamedCorpus] = {
    c.name: c
    for c in (
        NamedCorpus(
            "nietzsche",
            "https://s3.amazonaws.com/text-datasets/nietzsche.txt",
            "Nietzsche, Beyond Good and Evil (English); the study's corpus",
            None,
            590_000,
            610_000,
        ),
        NamedCorpus(
            "tinyshakespeare",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "Tiny Shakespeare: 40,000 lines from Shakespeare's plays",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            1_115_000,
            1_116_000,
        ),
    )
}


CHECKSUMS_FILE = "checksums.json"
"""In the data directory: the sha256 of the first verified copy of each corpus that has none pinned."""
_SHA256 = re.compile("[0-9a-f]{64}")


def default_data_dir() -> Path:
    return Path(os.environ.get("TUIRNN_DATA_DIR", "data"))


def _checked_data_dir(data_dir: Path | None) -> Path:
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    if data_dir.exists() and not data_dir.is_dir():
        raise CorpusError(f"data directory {data_dir} is not a directory")
    return data_dir


def offline_text() -> str:
    """English prose every CPython ships: the documentation topics used by `help()`."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions strip pydoc_data: fall back to built-in docstrings
        import builtins

        docs = (getattr(builtins, name).__doc__ for name in sorted(dir(builtins)))
        return "\n\n".join(doc for doc in docs if doc)
    return "\n\n".join(topics[key] for key in sorted(topics))


@dataclass(frozen=True)
class CorpusStatus:
    name: str
    description: str
    path: Path | None
    """Where the text is on disk; None for a named corpus not downloaded yet or the built-in one."""
    available: bool


def stored_spec(spec: str) -> str:
    """The corpus as a run records it: names stay names, a file becomes an absolute path so that a resume
    from another directory finds it."""
    if spec in CATALOG or spec in DEFAULT_ALIASES:
        return spec
    return str(Path(spec).expanduser().resolve())


def list_corpora(data_dir: Path) -> list[CorpusStatus]:
    found = [CorpusStatus(OFFLINE_NAME, "Python's documentation topics (offline default)", None, True)]
    for named in CATALOG.values():
        path = Path(data_dir) / named.filename
        found.append(CorpusStatus(named.name, named.description, path, path.is_file()))
    return found


def open_corpus(
    spec: str,
    data_dir: Path | None = None,
    newlines_to_spaces: bool = False,
    encoding_errors: str = "strict",
) -> Corpus:
    """Resolve `spec` (built-in name, catalog name or file path) and load it as character ids."""
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    cache_dir = data_dir / "cache"
    if spec in DEFAULT_ALIASES:
        return corpus_from_text(offline_text(), OFFLINE_NAME, "Python's bundled documentation",
                                newlines_to_spaces, cache_dir)
    if spec in CATALOG:
        path = _checked_data_dir(data_dir) / CATALOG[spec].filename
        if not path.exists():
            raise CorpusError(f"corpus {spec!r} is not downloaded yet: run `tuirnn data fetch {spec}`")
        name = spec
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            names = ", ".join((*DEFAULT_ALIASES, *CATALOG))
            raise CorpusError(f"no corpus file {spec!r} (named corpora: {names})")
        name = path.stem
    text = read_text(path, encoding_errors)
    return corpus_from_text(text, name, str(path), newlines_to_spaces, cache_dir)


def clean(data_dir: Path | None = None) -> Cleaned:
    """Empty the corpus cache (data/cache); downloaded corpora and anything not ours stay."""
    cache_dir = _checked_data_dir(data_dir) / "cache"
    try:
        return clean_cache(cache_dir)
    except OSError as exc:
        raise CorpusError(f"cannot clean {cache_dir}: {exc.strerror or exc}") from None


def fetch(
    name: str,
    data_dir: Path | None = None,
    url: str | None = None,
    progress: ProgressCallback | None = None,
    timeout_s: float = 30.0,
    deadline_s: float = 120.0,
    force: bool = False,
) -> Path:
    """Download a named corpus into `data_dir`, verify it, and only then put it in place.

    Verified means: within the corpus's size bounds, strict UTF-8, and the pinned sha256 where there is one.
    Where there is none, the first verified copy (downloaded, or already on disk) is trusted, and a download
    that differs from it is refused unless `force` says it is the one wanted. `deadline_s` bounds the whole
    download, `timeout_s` a stalled read.
    """
    if name not in CATALOG:
        raise CorpusError(f"unknown corpus {name!r}; named corpora: {', '.join(CATALOG)}")
    named = CATALOG[name]
    data_dir = _checked_data_dir(data_dir)
    target = data_dir / named.filename
    trusted = None if named.sha256 else _trusted_sha256(named, data_dir)
    body = download(url or named.url, f"download of {name}", named.max_bytes, deadline_s, timeout_s, progress)
    try:
        sha256 = _verify(named, body, trusted, force)
    except CorpusError as exc:
        raise DownloadError(f"download of {name} is not the expected text: {exc}") from None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(data_dir)
        atomic_write_bytes(target, body)
        if not named.sha256:
            _record_sha256(data_dir, name, sha256)
    except OSError as exc:
        raise DownloadError(f"download of {name} failed: {exc}") from None
    return target


def _verify(named: NamedCorpus, body: bytes, trusted: str | None, force: bool) -> str:
    """The sha256 of a body that passes every check."""
    sha256 = hashlib.sha256(body).hexdigest()
    if named.sha256 and sha256 != named.sha256:
        raise CorpusError(f"checksum mismatch (sha256 {sha256[:12]}..., expected {named.sha256[:12]}...)")
    text = decode_bytes(body, "strict", label="downloaded file")
    if not named.min_chars <= len(text) <= named.max_chars:
        raise CorpusError(f"{len(text):,} characters, expected {named.min_chars:,} to {named.max_chars:,}")
    if trusted and sha256 != trusted and not force:
        raise CorpusError(f"it differs from the first copy trusted here (sha256 {sha256[:12]}..., trusted "
                          f"{trusted[:12]}...); if this copy is the one you want, fetch it again with --force")
    return sha256


def _recorded(data_dir: Path) -> dict[str, str]:
    path = data_dir / CHECKSUMS_FILE
    if not path.exists():
        return {}
    try:
        recorded = json.loads(read_bytes(path, 1 << 20))
    except (CorpusError, ValueError):
        recorded = None
    if isinstance(recorded, dict) and all(isinstance(h, str) and _SHA256.fullmatch(h) for h in recorded.values()):
        return recorded
    raise DownloadError(f"{path} is damaged; delete it to trust the corpora on disk (or the next download)")


def _trusted_sha256(named: NamedCorpus, data_dir: Path) -> str | None:
    """The recorded sha256, else that of a copy on disk that passes the checks (downloaded before checksums were
    recorded); None when there is neither."""
    recorded = _recorded(data_dir).get(named.name)
    if recorded or not (data_dir / named.filename).exists():
        return recorded
    try:
        return _verify(named, read_bytes(data_dir / named.filename, named.max_bytes), None, False)
    except CorpusError:
        return None  # a damaged copy is no reason to refuse a good one


def _record_sha256(data_dir: Path, name: str, sha256: str) -> None:
    recorded = {**_recorded(data_dir), name: sha256}
    atomic_write_bytes(data_dir / CHECKSUMS_FILE, (json.dumps(recorded, indent=2, sort_keys=True) + "\n").encode())
