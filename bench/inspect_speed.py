"""Recording speed: tuirnn.inspection.activations.record against a naive per-step cell loop and the model's own
forward pass, and the n-gram baseline's counting time.

    python bench/inspect_speed.py                         # 2x512 LSTM over 20,000 characters
    python bench/inspect_speed.py --chars 2000 --hidden 64 --rounds 1          # a quick check

One CharRNN (LSTM, embedding 64, random weights from a seed) and one text: the validation part of `--corpus`,
of Nietzsche when present, or else of the offline Python docs text. Both recording methods keep every quantity
(h, c and the three gates of every layer):

- naive:    for each character and layer, the gates from the input and h_{t-1} by matrix-vector products, then
            c and h, stored as they come: how a per-step cell loop records; timed over `--naive-chars`
            characters and reported per character (it is linear in the length);
- ours:     record(): layer by layer and block by block of characters, torch's LSTM (oneDNN on the CPU) from
            the state the last block ended in, then the block's gates from x_t and h_{t-1} in one matrix
            product and c by an elementwise scan, written into the recording; then the next-character
            log-probabilities;
- forward:  the model's own forward pass over the text (both layers and the head), recording nothing: what
            running the model costs at all, and the floor recording cannot go below.

Ours is checked against the naive loop (every quantity, on the characters it ran) and against the forward
(log-probabilities over the whole text). Each round times every method; the best round counts. The n-gram
baseline (orders 1 to 5) is timed once on the corpus (Nietzsche when present). Prints one JSON object with the
1-minute load average before and after; the target is ours under 2 s for 20,000 characters of a 2x512 LSTM on
two CPU cores, read as the ratios to the in-run naive loop and forward rather than a fixed time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from tuirnn.config import ModelConfig
from tuirnn.corpus import Corpus, corpus_from_text, read_text
from tuirnn.inspection.activations import record
from tuirnn.inspection.baseline import ngram_baselines
from tuirnn.models import WEIGHT_NAMES, CharRNN

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "nietzsche.txt"


@torch.no_grad()
def naive_record(model: CharRNN, ids: list[int]) -> dict[str, np.ndarray]:
    """Every quantity, one character and one layer at a time."""
    layers, hidden = model.config.layers, model.config.hidden_size
    out = {name: np.empty((layers, len(ids), hidden), dtype=np.float32)
           for name in ("h", "c", "input", "forget", "output")}
    weights = [[getattr(model.rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES] for layer in range(layers)]
    h = [torch.zeros(hidden) for _ in range(layers)]
    c = [torch.zeros(hidden) for _ in range(layers)]
    for t, i in enumerate(ids):
        x = model.embedding.weight[i]
        for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
            gates = w_ih @ x + b_ih + w_hh @ h[layer] + b_hh
            gi, gf, gg, go = gates.chunk(4)
            gi, gf, go, gg = gi.sigmoid(), gf.sigmoid(), go.sigmoid(), gg.tanh()
            c[layer] = gf * c[layer] + gi * gg
            h[layer] = go * c[layer].tanh()
            for name, value in (("h", h[layer]), ("c", c[layer]), ("input", gi), ("forget", gf), ("output", go)):
                out[name][layer, t] = value.numpy()
            x = h[layer]
    return out


def _text(args: argparse.Namespace) -> tuple[Corpus, str]:
    if args.corpus is not None or DEFAULT_CORPUS.exists():
        path = args.corpus or DEFAULT_CORPUS
        corpus = corpus_from_text(read_text(path), path.stem, str(path))
    else:
        from tuirnn.catalog import offline_text

        corpus = corpus_from_text(offline_text(), "python-docs", "offline")
    _, val = corpus.split(0.1)
    ids = np.resize(val, args.chars)  # repeated when the validation part is shorter
    return corpus, corpus.vocab.decode(int(i) for i in ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=20_000)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--naive-chars", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    corpus, text = _text(args)
    torch.manual_seed(0)
    config = ModelConfig(cell="lstm", layers=args.layers, hidden_size=args.hidden, embedding_size=64, dropout=0.0)
    model = CharRNN(config, len(corpus.vocab)).eval()
    ids = corpus.vocab.encode(text)
    load_before = os.getloadavg()[0]
    ours_s = naive_per_char = forward_s = float("inf")
    for round_ in range(args.rounds):
        start = time.perf_counter()
        recording = record(model, corpus.vocab, text)
        ours_s = min(ours_s, time.perf_counter() - start)
        start = time.perf_counter()
        naive = naive_record(model, ids[: args.naive_chars])
        naive_per_char = min(naive_per_char, (time.perf_counter() - start) / args.naive_chars)
        start = time.perf_counter()
        with torch.no_grad():
            logits, _ = model(torch.tensor([ids]))
        forward_s = min(forward_s, time.perf_counter() - start)
        print(f"round {round_ + 1}: ours {ours_s:.3f} s, forward {forward_s:.3f} s", file=sys.stderr)
    difference = max(float(np.abs(recording.values[name][:, : args.naive_chars] - naive[name]).max())
                     for name in naive)
    forward_difference = float(np.abs(recording.log_probs - torch.log_softmax(logits[0], -1).numpy()).max())
    start = time.perf_counter()
    baselines = ngram_baselines(corpus)
    ngram_s = time.perf_counter() - start
    naive_s = naive_per_char * args.chars
    print(json.dumps({
        "model": f"lstm {args.layers}x{args.hidden}, embedding 64", "chars": args.chars,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "ours_s": round(ours_s, 3), "ours_chars_per_s": round(args.chars / ours_s),
        "naive_s_extrapolated": round(naive_s, 3), "naive_chars_per_s": round(1 / naive_per_char),
        "naive_chars_timed": args.naive_chars, "speedup": round(naive_s / ours_s, 1),
        "forward_s": round(forward_s, 3), "ours_over_forward": round(ours_s / forward_s, 2),
        "load_average_before": round(load_before, 2), "load_average": round(os.getloadavg()[0], 2),
        "max_abs_difference": difference, "max_abs_log_prob_difference_from_forward": forward_difference,
        "recorded_mb": round(sum(v.nbytes for v in recording.values.values()) / 1e6),
        "ngram_corpus": corpus.describe(), "ngram_s": round(ngram_s, 3),
        "ngram_val_loss": {order: round(loss, 4) for order, loss in baselines.items()},
    }))


if __name__ == "__main__":
    main()
