"""What counting alone achieves: the validation loss of an add-k smoothed n-gram model, trained on the same
train/validation split as the trainer (Corpus.split), to read a model's loss against.

Counting is vectorised: each order's contexts are numbered by one np.unique over (shorter context, character)
pairs, so a 600,000-character corpus takes well under a second for orders 1 to 5, and the result is kept in
memory per corpus checksum rather than written anywhere.
"""

from __future__ import annotations

import threading

import numpy as np

from tuirnn.corpus import Corpus
from tuirnn.inspection.errors import InspectError

MAX_ORDER = 5
ADD_K = 0.05
"""The pseudo-count added to every character after every context: small, since characters after a long
context are few and a large k flattens them towards uniform."""
DEFAULT_VAL_FRACTION = 0.1
"""The trainer's default validation fraction (DataConfig.val_fraction)."""

_cache: dict[tuple[str, float, float], dict[int, float]] = {}
_lock = threading.Lock()


def _losses(ids: np.ndarray, n_train: int, vocab_size: int, k: float) -> dict[int, float]:
    """Validation loss (nats per character) of the order 1..MAX_ORDER models: counts from ids[:n_train],
    predictions for ids[n_train:], each from the characters before it (the end of the training text
    included)."""
    ids = ids.astype(np.int64)
    n = len(ids)
    context = np.zeros(n, dtype=np.int64)  # numbers the order-1 characters before each position; -1: too few
    train, val = np.arange(n) < n_train, np.arange(n) >= n_train
    losses = {}
    for order in range(1, MAX_ORDER + 1):
        if order > 1:
            pairs = np.full(n, -1, dtype=np.int64)
            known = context[:-1] >= 0
            pairs[1:][known] = context[:-1][known] * vocab_size + ids[:-1][known]
            _, numbered = np.unique(pairs, return_inverse=True)
            context = np.where(pairs >= 0, numbered.reshape(-1), -1)
        usable = context >= 0
        joint = context * vocab_size + ids
        keys, counts = np.unique(joint[train & usable], return_counts=True)
        seen, totals = np.unique(context[train & usable], return_counts=True)
        asked = val & usable
        pair_count = _lookup(keys, counts, joint[asked])
        context_count = _lookup(seen, totals, context[asked])
        probs = (pair_count + k) / (context_count + k * vocab_size)
        losses[order] = float(-np.log(probs).mean())
    return losses


def _lookup(keys: np.ndarray, counts: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The count of each wanted key in the sorted `keys`, 0 where it is absent."""
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, counts[at], 0).astype(np.float64)


def ngram_baselines(corpus: Corpus, val_fraction: float = DEFAULT_VAL_FRACTION, k: float = ADD_K) -> dict[int, float]:
    """Validation loss in nats per character for each order 1..MAX_ORDER, computed once per corpus."""
    key = (corpus.sha256, val_fraction, k)
    with _lock:
        if key not in _cache:
            train, _ = corpus.split(val_fraction)
            if len(train) < MAX_ORDER:
                raise InspectError(f"corpus {corpus.name!r} is too short for an order-{MAX_ORDER} baseline")
            _cache[key] = _losses(corpus.ids, len(train), len(corpus.vocab), k)
        return dict(_cache[key])


def ngram_baseline(corpus: Corpus, order: int, val_fraction: float = DEFAULT_VAL_FRACTION) -> float:
    """The validation loss (nats per character) of the order-`order` model: what a chart can draw as a line."""
    if not 1 <= order <= MAX_ORDER:
        raise InspectError(f"n-gram order must be 1 to {MAX_ORDER}, not {order}")
    return ngram_baselines(corpus, val_fraction)[order]
