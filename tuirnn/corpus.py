"""Text corpora as character ids: strict loading, the sorted character vocabulary, splits, a cache.

numpy only (no torch), so corpora can be inspected before torch is imported.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuirnn import corpus_cache
from tuirnn.errors import TuirnnError

MAX_CORPUS_BYTES_ENV = "TUIRNN_MAX_CORPUS_BYTES"
DEFAULT_MAX_CORPUS_BYTES = 2 << 30
"""2 GiB: encoding holds about five bytes a character on top of the text, so larger files need a big machine."""
_LAST_CODE_POINT = 0x10FFFF


class CorpusError(TuirnnError):
    """The corpus cannot be used; the message says why and what to do."""


class UnknownCharactersError(CorpusError):
    def __init__(self, unknown: list[str]):
        self.unknown = unknown
        shown = ", ".join(repr(c) for c in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        super().__init__(f"characters not in the model's vocabulary: {shown}")


@dataclass(frozen=True)
class Vocabulary:
    """The sorted set of characters a model knows; a character's id is its index."""

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index  # type: ignore[attr-defined]

    def unknown(self, text: str) -> list[str]:
        return sorted({c for c in text if c not in self._index})  # type: ignore[attr-defined]

    def encode(self, text: str, drop_unknown: bool = False) -> list[int]:
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        if drop_unknown:
            return [index[c] for c in text if c in index]
        missing = self.unknown(text)
        if missing:
            raise UnknownCharactersError(missing)
        return [index[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"chars": list(self.chars)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        raw = json.loads(text)
        chars = raw.get("chars") if isinstance(raw, dict) else None
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise CorpusError("vocabulary file is malformed: expected {\"chars\": [single characters]}")
        if len(set(chars)) != len(chars):
            raise CorpusError("vocabulary file is malformed: repeated characters")
        return cls(tuple(chars))


@dataclass
class Corpus:
    name: str
    source: str
    """Where the text came from: a file path or a built-in source name."""
    ids: np.ndarray
    vocab: Vocabulary
    sha256: str

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def split(self, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """Contiguous train/validation split: the last `val_fraction` of the text is held out."""
        n_val = int(len(self) * val_fraction)
        if n_val < 2 or len(self) - n_val < 2:
            raise CorpusError(f"corpus {self.name!r} is too short to split ({len(self)} characters)")
        return self.ids[: len(self) - n_val], self.ids[len(self) - n_val :]

    def describe(self) -> str:
        return f"{self.name} ({len(self):,} chars, {len(self.vocab)} distinct) from {self.source}"


def decode_bytes(raw: bytes, errors: str = "strict", label: str = "corpus") -> str:
    """Decode corpus bytes as UTF-8 (or latin-1), refusing binary data with a precise message."""
    if not raw:
        raise CorpusError(f"{label} is empty")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise CorpusError(f"{label} looks binary, not text (NUL byte at byte offset {nul})")
    if errors == "latin-1":
        text = raw.decode("latin-1")
    else:
        bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
        try:  # decode past the BOM ourselves so the reported offset counts it, as the file does
            text = str(memoryview(raw)[bom:], "utf-8", errors)
        except UnicodeDecodeError as exc:
            raise CorpusError(
                f"{label} is not valid UTF-8 at byte offset {bom + exc.start}; "
                "use encoding_errors 'replace' or 'latin-1' to load it anyway"
            ) from None
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise CorpusError(f"{label} holds only whitespace")
    return text


def max_corpus_bytes() -> int:
    """The largest corpus file read: $TUIRNN_MAX_CORPUS_BYTES, or 2 GiB."""
    raw = os.environ.get(MAX_CORPUS_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_CORPUS_BYTES
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise CorpusError(f"{MAX_CORPUS_BYTES_ENV}={raw!r} is not a positive whole number of bytes")
    return limit


_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _check_regular(path: Path, info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _NOT_REGULAR if test(info.st_mode)), "not a regular file")
        raise CorpusError(f"{path} is {kind}, not a text file")
    if info.st_size > max_bytes:
        raise CorpusError(f"{path} is {info.st_size:,} bytes, more than the corpus limit of {max_bytes:,}; "
                          f"set {MAX_CORPUS_BYTES_ENV} to a larger number of bytes to read it")


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`. Anything else is refused before it is opened (a FIFO
    would block the open, a device would never end), and the read stops at the size the file had when opened."""
    try:
        _check_regular(path, os.stat(path), max_bytes)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO swapped in since the stat cannot block us
        with open(fd, "rb") as handle:
            info = os.fstat(fd)
            _check_regular(path, info, max_bytes)  # what was opened is what was checked
            os.set_blocking(fd, True)
            raw = handle.read(info.st_size + 1)
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > info.st_size:
        raise CorpusError(f"{path} grew while it was read; read it once it is complete")
    return raw


def read_text(path: Path, errors: str = "strict", max_bytes: int | None = None) -> str:
    """A corpus file as text; `max_bytes` defaults to max_corpus_bytes()."""
    raw = read_bytes(path, max_corpus_bytes() if max_bytes is None else max_bytes)
    return decode_bytes(raw, errors, label=str(path))


def encode_text(text: str) -> tuple[np.ndarray, Vocabulary]:
    """Vectorised through a table indexed by code point: no sort and no 8-byte index per character, so the
    peak is the text, its UTF-32 copy (4 bytes a character) and the ids."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    seen = np.zeros(_LAST_CODE_POINT + 1, dtype=bool)
    seen[points] = True
    codes = np.flatnonzero(seen)
    table = np.zeros(_LAST_CODE_POINT + 1, dtype=np.uint8 if len(codes) <= 256 else np.int32)
    table[codes] = np.arange(len(codes))
    return table[points], Vocabulary(tuple(chr(int(c)) for c in codes))


def text_sha256(text: str) -> str:
    """sha256 of the UTF-8 text, encoded a slice at a time rather than copied whole."""
    digest = hashlib.sha256()
    step = 1 << 24
    for start in range(0, len(text), step):
        digest.update(text[start : start + step].encode("utf-8"))
    return digest.hexdigest()


def corpus_from_text(
    text: str, name: str, source: str, newlines_to_spaces: bool = False, cache_dir: Path | None = None
) -> Corpus:
    """Encode `text`, reusing the cached ids in `cache_dir` when this exact text was encoded before."""
    if newlines_to_spaces:
        text = text.replace("\n", " ")
    digest = text_sha256(text)
    cache_file = corpus_cache.cache_path(cache_dir, digest) if cache_dir else None
    cached = corpus_cache.read_cached(cache_file, digest) if cache_file else None
    if cached is not None:  # checked against its checksum: exactly what write_cached was given
        return Corpus(name, source, cached[0], Vocabulary.from_json(cached[1]), digest)
    ids, vocab = encode_text(text)
    if cache_file:
        corpus_cache.write_cached(cache_file, digest, ids, vocab.to_json())
    return Corpus(name, source, ids, vocab, digest)
