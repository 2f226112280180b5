"""Recording speed: tuirnn.inspection.activations.record against a naive per-step cell loop, and the n-gram
baseline's counting time.

    python bench/inspect_speed.py                         # 2x512 LSTM over 20,000 characters
    python bench/inspect_speed.py --chars 2000 --hidden 64 --rounds 1          # a quick check

One CharRNN (LSTM, embedding 64, random weights from a seed) and one text (the corpus's validation part, or a
word salad without `--corpus`). Both methods record every quantity (h, c and the three gates of every layer):

- naive:    for each character and layer, the gates from the input and h_{t-1} by matrix-vector products, then
            c and h, stored as they come: how a per-step cell loop records; timed over `--naive-chars`
            characters and reported per character (it is linear in the length);
- sequence: each layer over the whole text in one call of torch's nn.LSTM (oneDNN as torch picks it), then
            the gates from h_{t-1} and the input in one matrix product per layer and c by an elementwise scan;
- ours:     record(): the input products as one matrix product per layer, then a step per character that
            writes the gates, c and h straight into the recording.
- forward:  for reference, the model's own forward pass over the text (nn.LSTM, both layers), recording
            nothing: what running the model costs at all.

The naive loop's h is checked against ours on the characters it ran. Each round times every method; the best
round counts. The n-gram baseline (orders 1 to 5) is timed once on the corpus (Nietzsche when present). Prints one
JSON object; the target is ours under 2 s for 20,000 characters of a 2x512 LSTM on two CPU cores, read as the
ratio to the naive loop rather than a fixed time.
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


@torch.no_grad()
def sequence_record(model: CharRNN, ids: list[int]) -> dict[str, np.ndarray]:
    """Every quantity from one nn.LSTM call per layer, the gates recomputed from its h afterwards."""
    layers, hidden = model.config.layers, model.config.hidden_size
    out: dict[str, np.ndarray] = {}
    x = model.embedding(torch.tensor(ids))
    for layer in range(layers):
        w_ih, w_hh, b_ih, b_hh = (getattr(model.rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES)
        single = torch.nn.LSTM(x.shape[1], hidden, 1, batch_first=True)  # (1, T, E): oneDNN's fast layout
        single.load_state_dict({f"{name}_l0": getattr(model.rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES})
        h = single(x.unsqueeze(0))[0].squeeze(0)
        before = torch.cat([torch.zeros(1, hidden), h[:-1]])
        gates = torch.addmm(b_ih, x, w_ih.t()).add_(torch.addmm(b_hh, before, w_hh.t()))
        i, f, g, o = gates.chunk(4, 1)
        i, f, o, g = i.sigmoid(), f.sigmoid(), o.sigmoid(), g.tanh()
        c = np.empty((len(ids), hidden), dtype=np.float32)
        previous = np.zeros(hidden, dtype=np.float32)
        f_np, written = f.numpy(), (i * g).numpy()
        for t in range(len(ids)):
            np.multiply(f_np[t], previous, out=c[t])
            c[t] += written[t]
            previous = c[t]
        for name, value in (("h", h.numpy()), ("c", c), ("input", i.numpy()), ("forget", f.numpy()),
                            ("output", o.numpy())):
            out.setdefault(name, np.empty((layers, len(ids), hidden), dtype=np.float32))[layer] = value
        x = h
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
    ours_s = naive_per_char = sequence_s = forward_s = float("inf")
    for round_ in range(args.rounds):
        start = time.perf_counter()
        recording = record(model, corpus.vocab, text)
        ours_s = min(ours_s, time.perf_counter() - start)
        start = time.perf_counter()
        naive = naive_record(model, ids[: args.naive_chars])
        naive_per_char = min(naive_per_char, (time.perf_counter() - start) / args.naive_chars)
        start = time.perf_counter()
        sequence = sequence_record(model, ids)
        sequence_s = min(sequence_s, time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            model(torch.tensor([ids]))
        forward_s = min(forward_s, time.perf_counter() - start)
        print(f"round {round_ + 1}: ours {ours_s:.3f} s, sequence {sequence_s:.3f} s, forward {forward_s:.3f} s",
              file=sys.stderr)
    difference = max(float(np.abs(recording.values[name][:, : args.naive_chars] - naive[name]).max())
                     for name in naive)
    difference = max([difference, *(float(np.abs(recording.values[name] - sequence[name]).max()) for name in sequence)])
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
        "sequence_s": round(sequence_s, 3), "speedup_over_sequence": round(sequence_s / ours_s, 1),
        "forward_s": round(forward_s, 3), "ours_over_forward": round(ours_s / forward_s, 2),
        "load_average": round(os.getloadavg()[0], 2),
        "max_abs_difference": difference, "recorded_mb": round(sum(v.nbytes for v in recording.values.values()) / 1e6),
        "ngram_corpus": corpus.describe(), "ngram_s": round(ngram_s, 3),
        "ngram_val_loss": {order: round(loss, 4) for order, loss in baselines.items()},
    }))


if __name__ == "__main__":
    main()
