"""What checking a checkpoint costs: loading a real-sized `latest` with its checksums verified vs without.

    python bench/checkpoint_integrity.py                         # 2x1024 LSTM + Adam state, 9 repeats
    python bench/checkpoint_integrity.py --hidden 256 --repeats 3   # a quick check

Builds what the Trainer writes as latest.safetensors for tuirnn's CharRNN (LSTM, 2 layers, hidden 1024,
embedding 64, a vocabulary of 85): the weights, Adam's moments after one real step, the RNG state and a
carried hidden state for batch 64, and the vocabulary's checksum. It saves that with `save_checkpoint`
into a temporary folder (removed at the end), then times, in the same process:

- verified:   `load_checkpoint(path, vocab=vocab)`, as generate and resume call it: read, parse, the
              content checksum over the metadata and every tensor, the vocabulary checksum;
- unverified: the same call with `content_digest` answering the stored checksum without hashing, so
              everything else (reading, parsing, grouping, the vocabulary check) is identical.

One untimed load warms the page cache; each repeat then times both, the order alternating, and the
medians are reported, with the digest alone and `save_checkpoint` (which hashes too, and fsyncs).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from safetensors import safe_open
from safetensors.torch import load as load_tensors

from tuirnn import checkpoint as checkpoints
from tuirnn.checkpoint import Checkpoint, content_digest, load_checkpoint, save_checkpoint, vocab_digest
from tuirnn.config import ModelConfig
from tuirnn.corpus import Vocabulary
from tuirnn.models import CharRNN
from tuirnn.resume import rng_snapshot

BATCH = 64


def latest_like(args: argparse.Namespace, vocab: Vocabulary) -> tuple[Checkpoint, int]:
    """The state a Trainer saves as latest, after one real Adam step; and the parameter count."""
    torch.manual_seed(args.seed)
    config = ModelConfig(cell="lstm", layers=args.layers, hidden_size=args.hidden, embedding_size=64, dropout=0.1)
    model = CharRNN(config, len(vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, len(vocab), (2, 16))
    logits, _ = model(ids)
    torch.autograd.backward(torch.nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), ids.reshape(-1)))
    optimizer.step()
    carried = [torch.randn(args.layers, BATCH, args.hidden) for _ in range(2)]
    info = {"best_val_loss": 1.5, "val_loss": 1.5, "last_loss": 1.4, "time": time.time()}
    parameters = sum(p.numel() for p in model.parameters())
    return Checkpoint(1, model.state_dict(), info, optimizer.state_dict(), rng_snapshot(torch.device("cpu")),
                      carried, vocab_digest(vocab)), parameters


@contextmanager
def unverified() -> Iterator[None]:
    """`load_checkpoint` without hashing: the content digest answers with the checksum it is checked against."""
    with mock.patch.object(checkpoints, "content_digest", lambda metadata, tensors: metadata["sha256"]):
        yield


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=85, help="vocabulary size")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    vocab = Vocabulary(tuple(chr(32 + i) for i in range(args.vocab)))
    state, parameters = latest_like(args, vocab)
    with tempfile.TemporaryDirectory(prefix="tuirnn-integrity-") as folder:
        path = Path(folder) / "latest.safetensors"
        save_times = [timed(lambda: save_checkpoint(path, state)) for _ in range(3)]
        loaded = load_checkpoint(path, vocab=vocab)  # warms the page cache; checks the file is good
        verified: list[float] = []
        plain: list[float] = []
        for repeat in range(args.repeats):
            for check in ((True, False) if repeat % 2 == 0 else (False, True)):
                if check:
                    verified.append(timed(lambda: load_checkpoint(path, vocab=vocab)))
                else:
                    with unverified():
                        plain.append(timed(lambda: load_checkpoint(path, vocab=vocab)))
        with safe_open(str(path), "pt") as opened:
            metadata = opened.metadata()
        tensors = load_tensors(path.read_bytes())
        digest_times = [timed(lambda: content_digest(metadata, tensors)) for _ in range(args.repeats)]
        size = path.stat().st_size
    verified_s, plain_s = statistics.median(verified), statistics.median(plain)
    digest_s = statistics.median(digest_times)
    print(json.dumps({
        "model": f"lstm {args.layers}x{args.hidden}, embedding 64, vocabulary {args.vocab}, Adam state, "
                 f"carried state for batch {BATCH}",
        "parameters": parameters,
        "tensors": len(tensors),
        "bytes": size,
        "step": loaded.step,
        "repeats": args.repeats,
        "load_verified_s": round(verified_s, 5),
        "load_unverified_s": round(plain_s, 5),
        "verify_cost_s": round(verified_s - plain_s, 5),
        "ratio": round(verified_s / plain_s, 3),
        "digest_s": round(digest_s, 5),
        "digest_mb_per_s": round(size / digest_s / 1e6, 1),
        "save_s": round(statistics.median(save_times), 5),
        "load_verified_s_all": [round(t, 5) for t in verified],
        "load_unverified_s_all": [round(t, 5) for t in plain],
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
