"""A faithful re-creation of the original study's training loop and text generation, as the baseline.

Both benchmarks import this module, so the baseline is written once. It deliberately keeps the study's
habits (numpy data on the host, a host-to-device copy every batch, `.item()` every batch,
`retain_graph=True`, generation that re-runs the whole 42-char window from a zero state for every new
character) and deliberately uses nothing from tuirnn's training or sampling code. The only tuirnn
pieces used here are the corpus loader (to read the text the same way) and, for generation, the shared
`CharRNN` module, so that both sides generate with the very same weights.

Also holds the helpers both scripts share: loading the corpus, seeding, threads, timing, JSON output.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/x.py` works without the editable install too
    sys.path.insert(0, str(REPO))

from tuirnn.catalog import open_corpus  # noqa: E402  (after the path above)
from tuirnn.corpus import Corpus  # noqa: E402

DEFAULT_CORPUS = (REPO / ".." / "shared" / "corpora" / "nietzsche.txt").resolve()

# The study's model 2 and its training settings.
STUDY_SEQ_LEN = 42
STUDY_EMBEDDING = 42
STUDY_HIDDEN = 512
STUDY_LAYERS = 2
STUDY_DROPOUT = 0.1
STUDY_BATCH = 64
STUDY_LR = 1e-3
VAL_FRACTION = 0.1
"""tuirnn's default split; the baseline trains on the same 90% so both sides see identical batches."""


# ----------------------------------------------------------------------------------------------------
# shared helpers

def load_corpus(path: str | Path) -> Corpus:
    """The study's text: newlines replaced with spaces. The id cache goes to a throwaway directory."""
    with tempfile.TemporaryDirectory(prefix="tuirnn-bench-") as scratch:
        return open_corpus(str(path), data_dir=Path(scratch), newlines_to_spaces=True)


def setup_threads(threads: int | None) -> int:
    """Use the same intra-op thread count for both sides (and for the whole process)."""
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def rng_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The global RNG state that dropout draws from (CPU, and the GPU's where there is one)."""
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def set_rng_state(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def print_json(result: dict) -> None:
    print(json.dumps(result, indent=2, ensure_ascii=False))
    sys.stdout.flush()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def timed(action: Callable[[], object], device: torch.device) -> tuple[float, object]:
    sync(device)
    started = time.perf_counter()
    result = action()
    sync(device)
    return time.perf_counter() - started, result


# ----------------------------------------------------------------------------------------------------
# the study's data and model

def study_windows(ids: np.ndarray, seq_len: int = STUDY_SEQ_LEN) -> tuple[np.ndarray, np.ndarray]:
    """The study's arrays, built on the host: x = non-overlapping windows of ids, y = x shifted by one.

    (The study built `idx = [char_indices[c] for c in text]` and then stacked Python slices; the ids are
    Python ints, so the arrays are int64.)"""
    idx = [int(i) for i in ids]
    starts = range(0, len(idx) - seq_len - 1 + 1, seq_len)
    x = np.array([idx[s : s + seq_len] for s in starts], dtype=np.int64)
    y = np.array([idx[s + 1 : s + seq_len + 1] for s in starts], dtype=np.int64)
    return x, y


class StudyLSTM(nn.Module):
    """The study's model 2: embedding 42 -> 2-layer LSTM 512 (dropout 0.1 between layers) -> linear.

    Its forward takes (x, hidden) and returns (logits, hidden), as the study's did. Submodules are
    created in the same order as tuirnn's CharRNN, so the same seed gives the same initial weights."""

    def __init__(self, vocab_size: int, hidden_size: int = STUDY_HIDDEN, embedding_size: int = STUDY_EMBEDDING,
                 layers: int = STUDY_LAYERS, dropout: float = STUDY_DROPOUT):
        super().__init__()
        self.hidden_size = hidden_size
        self.layers = layers
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = nn.LSTM(embedding_size, hidden_size, layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, hidden: tuple[torch.Tensor, torch.Tensor]):
        out, hidden = self.rnn(self.embedding(x), hidden)
        return self.head(out), hidden

    def init_hidden(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (self.layers, batch_size, self.hidden_size)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)


# ----------------------------------------------------------------------------------------------------
# the study's training loop

class StudyTrainer:
    """The study's loop, resumable step by step so a benchmark can warm up, then time a stretch."""

    def __init__(self, model: StudyLSTM, x: np.ndarray, y: np.ndarray, device: torch.device,
                 batch_size: int = STUDY_BATCH, lr: float = STUDY_LR):
        self.model = model.to(device)
        self.x, self.y = x, y
        self.device = device
        self.batch_size = batch_size
        self.n_batches = len(x) // batch_size
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.criterion = nn.CrossEntropyLoss()
        self.vocab_size = model.head.out_features
        self.step = 0
        self.hidden = model.init_hidden(batch_size, device)
        self.losses: list[float] = []
        model.train()

    def train_steps(self, count: int) -> float:
        """Run `count` optimizer steps exactly as the study did; returns the last loss."""
        model, bs, device = self.model, self.batch_size, self.device
        for _ in range(count):
            i = self.step % self.n_batches
            if i == 0:  # a new epoch starts from a zero state
                self.hidden = model.init_hidden(bs, device)
            # Host numpy batch -> tensor -> device, every batch.
            xb = torch.tensor(self.x[i * bs : (i + 1) * bs]).to(device)
            yb = torch.tensor(self.y[i * bs : (i + 1) * bs]).to(device)
            # The study "repackaged" the hidden state (re-wrapping it as `.data`, i.e. detached) and still
            # called `backward(retain_graph=True)`. Both are reproduced. Why this combination:
            # - without the detach, the second backward would run into the previous batch's graph, whose
            #   saved weights the optimizer has since changed in place, and autograd raises ("modified by
            #   an inplace operation"); even if it did not, each step would back-propagate to the start
            #   of the epoch. The study's loop ran, so its hidden state must have been cut each batch;
            # - with the state detached, `retain_graph=True` changes no gradient: it only keeps this
            #   batch's saved activations alive until `loss`/`logits` are rebound in the next step, i.e. a
            #   higher memory peak (about two graphs during the next forward) and a little bookkeeping.
            # So the baseline pays exactly the study's costs and computes the study's gradients.
            self.hidden = tuple(h.detach() for h in self.hidden)
            self.optimizer.zero_grad()
            logits, self.hidden = model(xb, self.hidden)
            loss = self.criterion(logits.view(-1, self.vocab_size), yb.view(-1))
            loss.backward(retain_graph=True)
            self.optimizer.step()
            self.losses.append(loss.item())  # a host sync every batch, as the study printed/stored it
            self.step += 1
        return self.losses[-1]


# ----------------------------------------------------------------------------------------------------
# the study's generation

def study_stream(model: nn.Module, chars: tuple[str, ...], prompt: str, device: torch.device,
                 window: int = STUDY_SEQ_LEN) -> Iterator[str]:
    """The study's greedy generation, one character at a time, without end: for every new character, the
    whole last-`window`-char window is encoded on the host (numpy), copied to the device and run through
    the model from a zero hidden state; the argmax of the last position is appended.

    `model` is tuirnn's CharRNN (forward(ids, state) -> (logits, state)), so both sides use the same
    weights. Charitably to the study, this runs in eval mode under `no_grad` (the study's loop built a
    graph per character), so the measured gap is, if anything, an underestimate."""
    char_indices = {c: i for i, c in enumerate(chars)}
    layers, hidden_size = model.rnn.num_layers, model.rnn.hidden_size
    lstm = isinstance(model.rnn, nn.LSTM)
    was_training = model.training
    model.eval()
    try:
        text = prompt
        while True:
            with torch.no_grad():
                x = np.array([[char_indices[c] for c in text[-window:]]])
                xt = torch.from_numpy(x).to(device)
                zeros = torch.zeros(layers, 1, hidden_size, device=device)
                hidden = (zeros, zeros.clone()) if lstm else zeros
                logits, _ = model(xt, hidden)
                preds = logits[0, -1].cpu().numpy()
            char = chars[int(np.argmax(preds))]
            text += char
            yield char
    finally:
        model.train(was_training)


def study_generate(model: nn.Module, chars: tuple[str, ...], prompt: str, length: int, device: torch.device) -> str:
    return "".join(itertools.islice(study_stream(model, chars, prompt, device), length))
