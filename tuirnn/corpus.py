"""Text corpora as character ids: strict loading, the sorted character vocabulary, splits, a cache.

numpy only (no torch), so corpora can be inspected before torch is imported.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tuirnn.atomic import atomic_file


class CorpusError(ValueError):
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


def read_text(path: Path, errors: str = "strict") -> str:
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise CorpusError(f"{path} is a directory, not a text file") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    return decode_bytes(raw, errors, label=str(path))


def encode_text(text: str) -> tuple[np.ndarray, Vocabulary]:
    """Vectorised: the vocabulary is the sorted distinct code points, ids their positions."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    codes = np.unique(points)
    ids = np.searchsorted(codes, points).astype(np.uint8 if len(codes) <= 256 else np.int32)
    return ids, Vocabulary(tuple(chr(int(c)) for c in codes))


def corpus_from_text(
    text: str, name: str, source: str, newlines_to_spaces: bool = False, cache_dir: Path | None = None
) -> Corpus:
    """Encode `text`, reusing the cached ids in `cache_dir` when this exact text was encoded before."""
    if newlines_to_spaces:
        text = text.replace("\n", " ")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    cache_file = cache_dir / f"{digest[:24]}.safetensors" if cache_dir else None
    if cache_file and cache_file.exists():
        cached = _read_cache(cache_file)
        if cached is not None:
            return Corpus(name, source, cached[0], cached[1], digest)
    ids, vocab = encode_text(text)
    if cache_file:
        _write_cache(cache_file, ids, vocab)
    return Corpus(name, source, ids, vocab, digest)


def _read_cache(path: Path) -> tuple[np.ndarray, Vocabulary] | None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as cached:
            return cached.get_tensor("ids"), Vocabulary.from_json(cached.metadata()["vocab"])
    except (OSError, KeyError, TypeError, ValueError, SafetensorError, CorpusError):
        return None  # a damaged cache is only a cache: encode again


def _write_cache(path: Path, ids: np.ndarray, vocab: Vocabulary) -> None:
    from safetensors.numpy import save

    try:
        with atomic_file(path) as handle:
            handle.write(save({"ids": ids}, metadata={"vocab": vocab.to_json()}))
    except OSError:
        pass  # a read-only or full disk only costs the next load a re-encode
