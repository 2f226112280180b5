"""Models and runs for the Explore tests, made by hand rather than trained: a unit planted to track quotes, and
run directories holding given weights."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from helpers import make_text, tiny_config

from tuirnn.checkpoint import Checkpoint, save_checkpoint, vocab_digest
from tuirnn.config import ModelConfig
from tuirnn.corpus import Vocabulary
from tuirnn.models import CharRNN
from tuirnn.runs import RunDir

OPEN, CLOSE = "\u201c", "\u201d"
PLANTED_UNIT = 3
"""The unit of layer 1 whose cell state is 1 inside curly quotes and 0 outside."""


def quoted_text(n_chars: int, seed: int = 0) -> str:
    """Word salad with curly-quoted phrases, so that "inside quotes" changes often."""
    rng = random.Random(seed)
    words = make_text(n_chars, seed).split(" ")
    pieces, inside = [], False
    for word in words:
        if rng.random() < 0.15:
            word = (word + CLOSE) if inside else (OPEN + word)
            inside = not inside
        pieces.append(word)
    return " ".join(pieces)[:n_chars]


def vocab_of(text: str) -> Vocabulary:
    return Vocabulary(tuple(sorted(set(text))))


def random_model(vocab: Vocabulary, cell: str = "lstm", layers: int = 2, hidden: int = 8, embedding: int = 6,
                 seed: int = 0) -> CharRNN:
    torch.manual_seed(seed)
    config = ModelConfig(cell=cell, layers=layers, hidden_size=hidden, embedding_size=embedding, dropout=0.0)
    return CharRNN(config, len(vocab)).eval()


@torch.no_grad()
def planted_model(vocab: Vocabulary, layers: int = 2, hidden: int = 8, seed: int = 0) -> CharRNN:
    """An LSTM whose layer-1 unit PLANTED_UNIT counts open quotes: its input gate opens only on a curly quote,
    which writes +1 (opening) or -1 (closing) into a cell that never forgets, and its output gate is open."""
    model = random_model(vocab, "lstm", layers, hidden, 6, seed)
    weights = model.embedding.weight
    weights[:, :2] = 0.0
    weights[vocab.chars.index(OPEN), 0] = 1.0
    weights[vocab.chars.index(CLOSE), 1] = 1.0
    rnn, u, h = model.rnn, PLANTED_UNIT, hidden
    i, f, g, o = u, h + u, 2 * h + u, 3 * h + u
    for row in (i, f, g, o):
        rnn.weight_ih_l0[row] = 0.0
        rnn.weight_hh_l0[row] = 0.0
        rnn.bias_ih_l0[row] = 0.0
        rnn.bias_hh_l0[row] = 0.0
    rnn.weight_ih_l0[i, :2] = 20.0
    rnn.bias_ih_l0[i] = -10.0
    rnn.bias_ih_l0[f] = 10.0
    rnn.weight_ih_l0[g, 0], rnn.weight_ih_l0[g, 1] = 10.0, -10.0
    rnn.bias_ih_l0[o] = 10.0
    return model


def save_run(path: Path, model: CharRNN, vocab: Vocabulary, corpus: Path, step: int = 100, best: bool = True,
             best_val_loss: float = 1.5) -> RunDir:
    """A run directory at `path` holding `model`'s weights as its best (or, with best=False, latest) checkpoint."""
    m = model.config
    config = tiny_config(corpus, cell=m.cell, layers=m.layers, hidden_size=m.hidden_size,
                         embedding_size=m.embedding_size)
    info = {"corpus": corpus.stem, "step": step, **({"best_val_loss": best_val_loss} if best else {})}
    run = RunDir.create(path, config, vocab, info)
    checkpoint = Checkpoint(step, {k: v.detach().clone() for k, v in model.state_dict().items()},
                            vocab_sha256=vocab_digest(vocab))
    save_checkpoint(run.best_path if best else run.latest_path, checkpoint)
    return RunDir.open(path)


def planted_run(home: Path, n_chars: int = 3000, name: str = "quotes-lstm") -> tuple[RunDir, Path]:
    """A run of the planted model in home/models/<name>, trained (as far as its files say) on home/words.txt."""
    text = quoted_text(n_chars)
    corpus = home / "words.txt"
    corpus.write_text(text, encoding="utf-8")
    vocab = vocab_of(text)
    return save_run(home / "models" / name, planted_model(vocab), vocab, corpus), corpus
