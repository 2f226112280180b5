"""Where an explored text comes from: an excerpt of the run's corpus by offset, a file, or typed text; each
cut to a length and to the characters the model knows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuirnn.catalog import open_corpus
from tuirnn.corpus import Corpus, Vocabulary, read_text
from tuirnn.inspection.errors import InspectError
from tuirnn.runs import RunDir

DEFAULT_LENGTH = 2000


@dataclass(frozen=True)
class Fitted:
    text: str
    dropped: tuple[str, ...]
    """Characters the model does not know, left out of `text`."""


def run_corpus(run: RunDir, data_dir: Path) -> Corpus:
    """The corpus the run was trained on, read as its settings say (newlines, encoding errors)."""
    d = run.config.data
    return open_corpus(d.corpus, data_dir, d.newlines_to_spaces, d.encoding_errors)


def validation_start(corpus: Corpus, val_fraction: float) -> int:
    """Where the held-out text begins: text the model never trained on."""
    train, _ = corpus.split(val_fraction)
    return len(train)


def corpus_excerpt(corpus: Corpus, offset: int, length: int) -> str:
    if not 0 <= offset < len(corpus):
        raise InspectError(f"offset {offset:,} is outside corpus {corpus.name!r} (0 to {len(corpus) - 1:,})")
    if length < 1:
        raise InspectError(f"length must be at least 1, not {length}")
    return corpus.vocab.decode(int(i) for i in corpus.ids[offset : offset + length])


def file_text(path: Path, length: int) -> str:
    """The first `length` characters of a text file (checked as corpus files are: regular, UTF-8, bounded)."""
    if length < 1:
        raise InspectError(f"length must be at least 1, not {length}")
    return read_text(Path(path))[:length]


def fit_to_vocab(text: str, vocab: Vocabulary) -> Fitted:
    dropped = tuple(vocab.unknown(text))
    kept = "".join(c for c in text if c in vocab) if dropped else text
    if not kept:
        raise InspectError("none of the text's characters are in the model's vocabulary")
    return Fitted(kept, dropped)
