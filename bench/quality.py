"""What the defaults learn in a time budget, against a plain PyTorch LSTM loop given the same budget.

    python bench/quality.py                                  # 5 minutes per run, Nietzsche and tiny Shakespeare
    python bench/quality.py --time 60s --corpora nietzsche   # a quick look

For each corpus, in the same process and one after the other (never at the same time, so neither slows
the other): tuirnn's defaults (`RunConfig()`, the device's default settings, `--time`), exactly as
`tuirnn train --corpus FILE --time T` trains, and a plain loop: a 2-layer, 256-unit LSTM (embedding 64)
on 64 contiguous streams of 100 characters with the state carried, Adam at 2e-3 and nothing else,
trained until the same budget is spent. Both see the same 90/10 split of the same text (tuirnn's own
`Corpus.split`), and both final models are measured by the same function: the mean loss in nats per
character over the whole validation text, read as one stream with the state carried. tuirnn's is its best
checkpoint (the one `tuirnn generate` uses), the plain loop's is its last weights. Wall times include
each side's set-up (model building, CUDA graph capture) but not the corpus load, which is shared.

Prints one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import _study
import torch
from torch import nn

from tuirnn.budget import parse_duration
from tuirnn.catalog import open_corpus
from tuirnn.checkpoint import load_checkpoint
from tuirnn.config import RunConfig, with_overrides
from tuirnn.corpus import Corpus
from tuirnn.devices import describe_device, pick_device
from tuirnn.events import Finished
from tuirnn.models import CharRNN
from tuirnn.runs import RunDir
from tuirnn.training import Trainer

SHARED = _study.REPO.parent / "shared" / "corpora"
CORPORA = {"nietzsche": SHARED / "nietzsche.txt", "tinyshakespeare": SHARED / "tinyshakespeare.txt"}
TARGETS = {("cpu", "nietzsche"): 1.33, ("cpu", "tinyshakespeare"): 1.47,
           ("cuda", "nietzsche"): 1.25, ("cuda", "tinyshakespeare"): 1.47}
"""The issue's targets (validation nats/char at 5 minutes with the defaults) by device type and corpus."""
PLAIN_BATCH, PLAIN_SEQ, PLAIN_HIDDEN, PLAIN_LAYERS, PLAIN_EMBEDDING, PLAIN_LR = 64, 100, 256, 2, 64, 2e-3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class PlainLSTM(nn.Module):
    def __init__(self, vocab: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, PLAIN_EMBEDDING)
        self.rnn = nn.LSTM(PLAIN_EMBEDDING, PLAIN_HIDDEN, PLAIN_LAYERS, batch_first=True)
        self.head = nn.Linear(PLAIN_HIDDEN, vocab)

    def forward(self, ids: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None,
                last_only: bool = False) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, state = self.rnn(self.embedding(ids), state)
        return self.head(out), state


@torch.no_grad()
def validation_loss(model: nn.Module, ids: torch.Tensor, chunk: int = 1000) -> float:
    """Mean cross-entropy (nats/char) over `ids` as one stream, the state carried across chunks."""
    model.eval()
    total, count, state = 0.0, 0, None
    for start in range(0, ids.numel() - 1, chunk):
        inputs = ids[start:start + chunk].unsqueeze(0)
        targets = ids[start + 1:start + chunk + 1].unsqueeze(0)
        inputs = inputs[:, :targets.shape[1]]
        logits, state = model(inputs, state)
        total += float(nn.functional.cross_entropy(logits[0].float(), targets[0], reduction="sum"))
        count += targets.numel()
    return total / count


def plain_loop(corpus: Corpus, budget_s: float, device: torch.device, seed: int) -> dict:
    """The loop a person writes first: streams, carried state, Adam, until the budget is spent."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    train_ids, val_ids = corpus.split(0.1)
    train = torch.from_numpy(train_ids.astype("int64")).to(device)
    stream_len = (train.numel() - 1) // PLAIN_BATCH
    inputs = train[:PLAIN_BATCH * stream_len].view(PLAIN_BATCH, stream_len)
    targets = train[1:PLAIN_BATCH * stream_len + 1].view(PLAIN_BATCH, stream_len)
    model = PlainLSTM(len(corpus.vocab)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=PLAIN_LR)
    state, step, position = None, 0, 0
    while time.perf_counter() - started < budget_s:
        if position + PLAIN_SEQ > stream_len:
            position, state = 0, None
        x, y = inputs[:, position:position + PLAIN_SEQ], targets[:, position:position + PLAIN_SEQ]
        logits, state = model(x, state)
        state = (state[0].detach(), state[1].detach())
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        position += PLAIN_SEQ
        step += 1
        if step % 200 == 0:
            float(loss)  # a sync, so the budget check sees the real time on a GPU
    _study.sync(device)
    train_s = time.perf_counter() - started
    val = validation_loss(model, torch.from_numpy(val_ids.astype("int64")).to(device))
    return {"steps": step, "train_wall_s": round(train_s, 1), "val_loss": round(val, 4),
            "val_bpc": round(val / math.log(2), 4), "last_train_loss": round(float(loss), 4)}


def ours(corpus: Corpus, corpus_path: Path, budget_s: float, device: torch.device, folder: Path) -> dict:
    """tuirnn's defaults with a time budget, as `tuirnn train --corpus FILE --time T` runs them."""
    config = with_overrides(RunConfig(), {"corpus": str(corpus_path), "time_budget": budget_s,
                                          "device": device.type})
    run = RunDir.create(folder / f"ours-{corpus.name}", config, corpus.vocab, {"corpus": corpus.name})
    started = time.perf_counter()
    trainer = Trainer(config, corpus, run)
    result = trainer.run()
    wall = time.perf_counter() - started
    if not isinstance(result, Finished):
        raise SystemExit(f"tuirnn's run failed: {result.message}")
    model = CharRNN(config.model, len(corpus.vocab)).to(device)
    model.load_state_dict(load_checkpoint(run.best_path, device, corpus.vocab).model)
    _, val_ids = corpus.split(config.data.val_fraction)
    val = validation_loss(model, torch.from_numpy(val_ids.astype("int64")).to(device))
    info = RunDir.open(run.path).info
    m = config.model
    return {"config": {"model": f"{m.cell} {m.layers}x{m.hidden_size}", "embedding": m.embedding_size,
                       "dropout": m.dropout, "batch": config.train.batch_size, "seq_len": config.data.seq_len,
                       "lr": config.train.lr, "schedule": config.train.schedule},
            "device": info.get("device"), "steps": result.step, "planned": info.get("planned"),
            "wall_s": round(wall, 1), "val_loss": round(val, 4), "val_bpc": round(val / math.log(2), 4),
            "trainer_best_val_loss": round(result.best_val_loss or math.nan, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", default="5m", help="budget per run: 90s, 5m, ... (default: 5m)")
    parser.add_argument("--corpora", default="nietzsche,tinyshakespeare",
                        help="comma-separated names from ../shared/corpora (default: both)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                        help="where both sides train (default: auto)")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain loop (default: run it)")
    parser.add_argument("--seed", type=int, default=1234, help="the plain loop's seed (default: 1234)")
    args = parser.parse_args(argv)
    budget_s = parse_duration(args.time)
    device = pick_device(args.device)
    results = {}
    with tempfile.TemporaryDirectory(prefix="tuirnn-quality-") as folder:
        for name in args.corpora.split(","):
            path = CORPORA[name]
            corpus = open_corpus(str(path), Path(folder) / "data")  # as `--corpus FILE` reads it, newlines kept
            log(f"{name}: tuirnn's defaults for {budget_s:.0f} s on {describe_device(device)}...")
            entry = {"ours": ours(corpus, path, budget_s, device, Path(folder))}
            log(f"{name}: ours {entry['ours']['val_loss']} nats/char in {entry['ours']['wall_s']} s")
            if not args.no_plain:
                log(f"{name}: the plain loop for {budget_s:.0f} s...")
                entry["plain"] = plain_loop(corpus, budget_s, device, args.seed)
                log(f"{name}: plain {entry['plain']['val_loss']} nats/char")
                entry["ratio_val_loss"] = round(entry["ours"]["val_loss"] / entry["plain"]["val_loss"], 4)
            target = TARGETS.get((device.type, name))
            entry["target_val_loss"] = target
            entry["meets_target"] = None if target is None else entry["ours"]["val_loss"] <= target
            results[name] = entry
    _study.print_json({"benchmark": "quality", "device": _study.device_name(device), "torch": torch.__version__,
                       "threads": torch.get_num_threads(), "budget_s": budget_s, "corpora": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
