"""Where corpora come from: named downloadable corpora, the offline default, or a local file."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuirnn.atomic import atomic_file, remove_stale_temps
from tuirnn.corpus import Corpus, CorpusError, corpus_from_text, decode_bytes, read_text

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


def default_data_dir() -> Path:
    return Path(os.environ.get("TUIRNN_DATA_DIR", "data"))


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
        path = data_dir / CATALOG[spec].filename
        if not path.is_file():
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


class DownloadError(CorpusError):
    """A download failed; nothing was left behind."""


ProgressCallback = Callable[[int, "int | None"], None]


def fetch(
    name: str,
    data_dir: Path | None = None,
    url: str | None = None,
    progress: ProgressCallback | None = None,
    timeout_s: float = 30.0,
) -> Path:
    """Download a named corpus into `data_dir`, verify it, and only then put it in place."""
    if name not in CATALOG:
        raise CorpusError(f"unknown corpus {name!r}; named corpora: {', '.join(CATALOG)}")
    named = CATALOG[name]
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(data_dir)
    target = data_dir / named.filename
    source = url or named.url
    try:
        with urllib.request.urlopen(source, timeout=timeout_s) as response:
            total = response.length
            body = bytearray()
            while chunk := response.read(1 << 16):
                body += chunk
                if progress:
                    progress(len(body), total)
        if total is not None and len(body) != total:
            raise DownloadError(f"download of {name} was cut short ({len(body):,} of {total:,} bytes)")
        _verify(named, bytes(body))
        with atomic_file(target) as handle:
            handle.write(body)
    except DownloadError:
        raise
    except CorpusError as exc:
        raise DownloadError(f"download of {name} is not the expected text: {exc}") from None
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"download of {name} failed: HTTP {exc.code} {exc.reason} from {source}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"download of {name} failed: {exc.reason} ({source})") from None
    except http.client.HTTPException as exc:  # e.g. IncompleteRead: the connection dropped mid-chunk
        raise DownloadError(f"download of {name} failed: {type(exc).__name__} ({source})") from None
    except (OSError, ValueError) as exc:
        raise DownloadError(f"download of {name} failed: {exc}") from None
    return target


def _verify(named: NamedCorpus, body: bytes) -> None:
    sha256 = hashlib.sha256(body).hexdigest()
    if named.sha256 and sha256 != named.sha256:
        raise CorpusError(f"checksum mismatch (sha256 {sha256[:12]}..., expected {named.sha256[:12]}...)")
    text = decode_bytes(body, "strict", label="downloaded file")
    if not named.min_chars <= len(text) <= named.max_chars:
        raise CorpusError(f"{len(text):,} characters, expected {named.min_chars:,} to {named.max_chars:,}")
