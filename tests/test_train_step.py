"""The training step on fixed buffers: it computes what a plain loop computes, and falls back cleanly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import make_text, tiny_config

from tuirnn.batching import make_batches
from tuirnn.config import ConfigError, RunConfig, validate
from tuirnn.corpus import Vocabulary
from tuirnn.models import CharRNN, detach_state
from tuirnn.optimization import make_optimizer
from tuirnn.train_step import TrainStep, graph_unavailable, resolve_precision

CPU = torch.device("cpu")
TEXT = make_text(6000)
VOCAB = Vocabulary(tuple(sorted(set(TEXT))))
IDS = torch.from_numpy(np.array(VOCAB.encode(TEXT), dtype=np.int64))

CASES = {
    "lstm streams, carried state, dropout, clipping": {"cell": "lstm", "layers": 2, "dropout": 0.3, "clip_norm": 0.5},
    "rnn windows, last target, fresh state": {"cell": "rnn", "layout": "windows", "seq_len": 12, "stride": 3,
                                              "targets": "last", "carry_state": False, "clip_norm": 0.0},
    "gru windows, every target, carried state": {"cell": "gru", "layers": 2, "layout": "windows", "seq_len": 10,
                                                 "carry_state": True, "output_dropout": True, "dropout": 0.2},
}


def _setup(config: RunConfig) -> tuple[CharRNN, torch.optim.Optimizer, object]:
    torch.manual_seed(5)
    model = CharRNN(config.model, len(VOCAB))
    return model, make_optimizer(config.train, model, CPU), make_batches(IDS, config.data, config.train.batch_size)


def _plain_losses(config: RunConfig, steps: int) -> list[float]:
    """The textbook loop: pass the state on detached, or None where a batch starts fresh."""
    model, optimizer, batches = _setup(config)
    state = None
    losses = []
    for step in range(steps):
        index = step % len(batches)
        if index == 0 or not config.data.carry_state:
            state = None
        inputs, targets = batches.batch(index)
        logits, new_state = model(inputs, state, last_only=batches.targets_last)
        loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if config.train.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.clip_norm)
        optimizer.step()
        state = detach_state(new_state)
        losses.append(float(loss.detach()))
    return losses


def _step_losses(config: RunConfig, steps: int) -> list[float]:
    model, optimizer, batches = _setup(config)
    t, d = config.train, config.data
    runner = TrainStep(model, optimizer, batches.batch(0), batches.targets_last, d.carry_state, t.clip_norm,
                       "fp32", use_graph=True)
    runner.set_state(None)
    runner.prepare(*batches.batch(0))
    losses = []
    for step in range(steps):
        index = step % len(batches)
        loss, _ = runner.run(*batches.batch(index), fresh_state=index == 0)
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize("case", CASES)
def test_step_on_buffers_computes_what_the_plain_loop_computes(case: str) -> None:
    config = validate(tiny_config(**{"hidden_size": 24, "batch_size": 6, **CASES[case]}))
    steps = 2 * len(make_batches(IDS, config.data, config.train.batch_size)) + 3  # across two epoch starts
    plain = _plain_losses(config, steps)
    assert _step_losses(config, steps) == plain
    assert plain[-1] < plain[0]


def test_carried_state_is_detached_and_can_be_set() -> None:
    config = validate(tiny_config(cell="lstm", hidden_size=8))
    model, optimizer, batches = _setup(config)
    runner = TrainStep(model, optimizer, batches.batch(0), False, True, 1.0, "fp32", use_graph=False)
    assert not any(t.any() for t in runner.state)
    runner.run(*batches.batch(0), fresh_state=True)
    h, c = runner.state
    assert h.any() and not h.requires_grad and not c.requires_grad
    runner.set_state(None)
    assert runner.state[0] is h and not h.any() and not c.any()
    runner.set_state((torch.ones_like(h), torch.full_like(c, 2.0)))
    assert bool((h == 1).all()) and bool((c == 2).all())


def test_without_a_cuda_gpu_the_step_runs_eagerly_and_says_why() -> None:
    config = validate(tiny_config())
    model, optimizer, batches = _setup(config)
    before = [p.detach().clone() for p in model.parameters()]
    runner = TrainStep(model, optimizer, batches.batch(0), False, True, 1.0, "fp32", use_graph=True)
    runner.prepare(*batches.batch(0))
    assert runner.graph is None and runner.description == "eager (CUDA graphs need a CUDA GPU)"
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=False))  # preparing trains nothing
    assert graph_unavailable(torch.device("cuda"), wanted=False, with_dropout=False) == "CUDA graphs are turned off"
    assert graph_unavailable(torch.device("cuda"), wanted=True, with_dropout=True) == ""


def test_a_second_graph_with_dropout_in_one_process_runs_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured on an H200: replaying a dropout graph after another one's capture is an illegal memory
    access, so while one lives, a second step that draws dropout runs eagerly (CPU-side check here)."""
    import weakref

    from tuirnn import train_step

    live = weakref.WeakSet()
    monkeypatch.setattr(train_step, "_GRAPHS_WITH_DROPOUT", live)
    cuda = torch.device("cuda")
    config = validate(tiny_config(layers=2, dropout=0.1))
    model, _, _ = _setup(config)
    assert train_step.uses_dropout(model)
    assert not train_step.uses_dropout(_setup(validate(tiny_config(layers=2, dropout=0.0)))[0])
    assert not train_step.uses_dropout(_setup(validate(tiny_config(layers=1, dropout=0.3)))[0])
    live.add(model)  # any object stands for a live graphed step
    assert graph_unavailable(cuda, wanted=True, with_dropout=True) == (
        "another CUDA graph with dropout is live in this process")
    assert graph_unavailable(cuda, wanted=True, with_dropout=False) == ""
    del model
    import gc

    gc.collect()
    assert graph_unavailable(cuda, wanted=True, with_dropout=True) == ""  # it went with its step


def test_precision_falls_back_to_fp32_off_cuda_with_the_reason() -> None:
    assert resolve_precision("auto", CPU) == ("fp32", "")
    assert resolve_precision("fp32", CPU) == ("fp32", "")
    assert resolve_precision("tf32", CPU) == ("fp32", "tf32 needs an Ampere or newer NVIDIA GPU")
    assert resolve_precision("bf16", CPU) == ("fp32", "bf16 needs a CUDA GPU that supports it")
    with pytest.raises(ConfigError, match="precision must be one of auto, fp32, tf32, bf16"):
        validate(tiny_config(precision="fp16"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("case", CASES)
def test_cuda_graph_replay_matches_eager_steps_on_a_gpu(case: str) -> None:
    cuda = torch.device("cuda")
    config = validate(tiny_config(**{"hidden_size": 64, "batch_size": 8, "dropout": 0.0, **CASES[case]}))
    config.model.dropout = 0.0  # cuDNN's dropout keeps its own random state: compare without it
    results = []
    for use_graph in (True, False):
        torch.manual_seed(5)
        model = CharRNN(config.model, len(VOCAB)).to(cuda)
        optimizer = make_optimizer(config.train, model, cuda)
        batches = make_batches(IDS.to(cuda), config.data, config.train.batch_size)
        runner = TrainStep(model, optimizer, batches.batch(0), batches.targets_last, config.data.carry_state,
                           config.train.clip_norm, "fp32", use_graph)
        runner.prepare(*batches.batch(0))
        assert (runner.graph is not None) == use_graph, runner.description
        results.append([float(runner.run(*batches.batch(i % len(batches)), fresh_state=i % len(batches) == 0)[0])
                        for i in range(2 * len(batches) + 3)])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_precision_is_timed_and_the_faster_kept_on_a_gpu() -> None:
    from tuirnn.train_step import measured_precisions

    cuda = torch.device("cuda")
    config = validate(tiny_config(cell="lstm", hidden_size=64, batch_size=8))
    torch.manual_seed(5)
    model = CharRNN(config.model, len(VOCAB)).to(cuda)
    batches = make_batches(IDS.to(cuda), config.data, config.train.batch_size)
    runner = TrainStep(model, make_optimizer(config.train, model, cuda), batches.batch(0), False, True, 1.0,
                       "auto", use_graph=True)
    before = [p.detach().clone() for p in model.parameters()]
    runner.prepare(*batches.batch(0))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=False))  # timing trained nothing
    if measured_precisions("auto", cuda):
        assert runner.precision in ("tf32", "bf16") and runner.precision_note.startswith("measured tf32")
    losses = [float(runner.run(*batches.batch(i), fresh_state=i == 0)[0]) for i in range(len(batches))]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
