"""Streaming generation: seeds, greedy and filtered sampling, settings checks, and carried state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_text, tiny_config, train_run, write_text

from tuirnn.catalog import open_corpus
from tuirnn.checkpoint import CheckpointError
from tuirnn.config import ModelConfig
from tuirnn.corpus import UnknownCharactersError, Vocabulary
from tuirnn.models import CharRNN
from tuirnn.sampling import Generator, SamplingSettings, _filter, generator_for_run

VOCAB = Vocabulary(tuple(sorted(set(make_text(3000)))))


def _generator(cell: str = "lstm", layers: int = 2, seed: int = 0, top_n: int = 5) -> Generator:
    """A randomly initialised model with sharpened outputs, so the distribution is far from uniform."""
    torch.manual_seed(seed)
    model = CharRNN(ModelConfig(cell=cell, layers=layers, hidden_size=24, embedding_size=8, dropout=0.2), len(VOCAB))
    with torch.no_grad():
        model.head.weight.mul_(6.0)
    return Generator(model, VOCAB, "cpu", top_n=top_n)


def test_same_seed_same_text_other_seed_other_text() -> None:
    generator = _generator()
    first = generator.generate("The will", SamplingSettings(length=120, seed=7))
    assert len(first) == 120 and set(first) <= set(VOCAB.chars)
    assert generator.generate("The will", SamplingSettings(length=120, seed=7)) == first
    assert _generator().generate("The will", SamplingSettings(length=120, seed=7)) == first
    assert generator.generate("The will", SamplingSettings(length=120, seed=8)) != first


def test_fresh_seed_is_reported_and_reproduces() -> None:
    generator = _generator()
    text = generator.generate("to ", SamplingSettings(length=80))
    assert generator.seed is not None
    assert generator.generate("to ", SamplingSettings(length=80, seed=generator.seed)) == text


def test_sampling_leaves_the_global_rng_alone() -> None:
    generator = _generator()
    before = torch.get_rng_state()
    generator.generate("the", SamplingSettings(length=50, seed=3))
    assert torch.equal(torch.get_rng_state(), before)


def test_greedy_needs_no_seed_and_is_deterministic() -> None:
    generator = _generator()
    greedy = generator.generate("what ", SamplingSettings(length=100, greedy=True))
    assert generator.seed is None
    assert generator.generate("what ", SamplingSettings(length=100, greedy=True, seed=123)) == greedy
    assert _generator().generate("what ", SamplingSettings(length=100, greedy=True)) == greedy


@pytest.mark.parametrize("settings", [SamplingSettings(length=100, top_k=1, seed=5),
                                      SamplingSettings(length=100, top_p=1e-6, seed=5),
                                      SamplingSettings(length=100, top_k=1, temperature=3.0, seed=9)])
def test_narrowest_filters_equal_greedy(settings: SamplingSettings) -> None:
    generator = _generator()
    assert generator.generate("be", settings) == generator.generate("be", SamplingSettings(length=100, greedy=True))


def test_filters_that_keep_everything_change_nothing() -> None:
    generator = _generator()
    plain = generator.generate("be", SamplingSettings(length=100, seed=4))
    assert generator.generate("be", SamplingSettings(length=100, seed=4, top_k=len(VOCAB))) == plain
    assert generator.generate("be", SamplingSettings(length=100, seed=4, top_k=len(VOCAB) + 10)) == plain
    assert generator.generate("be", SamplingSettings(length=100, seed=4, top_p=1.0)) == plain


def test_filter_keeps_the_smallest_set_reaching_p() -> None:
    probs = torch.tensor([0.1, 0.5, 0.05, 0.25, 0.1])
    assert _filter(probs, 0, 0.5).nonzero().flatten().tolist() == [1]
    assert _filter(probs, 0, 0.6).nonzero().flatten().tolist() == [1, 3]
    assert _filter(probs, 0, 0.75).nonzero().flatten().tolist() == [1, 3]
    assert _filter(probs, 2, 1.0).nonzero().flatten().tolist() == [1, 3]
    assert torch.equal(_filter(probs, 0, 1.0), probs)


@pytest.mark.parametrize(("settings", "message"), [
    (SamplingSettings(temperature=0.0), "temperature must be a number of at least"),
    (SamplingSettings(temperature=-1.0), "temperature must be a number of at least"),
    (SamplingSettings(temperature=1e-40), "temperature must be a number of at least"),
    (SamplingSettings(temperature=float("nan")), "temperature must be a number of at least"),
    (SamplingSettings(temperature=float("inf")), "temperature must be a number of at least"),
    (SamplingSettings(top_k=-1), "top_k"),
    (SamplingSettings(top_p=0.0), "top_p"),
    (SamplingSettings(top_p=1.5), "top_p"),
    (SamplingSettings(length=-1), "length"),
    (SamplingSettings(seed=-2), "seed"),
])
def test_settings_are_checked(settings: SamplingSettings, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings.check()
    with pytest.raises(ValueError, match=message):
        _generator().generate("a", settings)


def test_greedy_ignores_temperature() -> None:
    SamplingSettings(temperature=0.0, greedy=True).check()


def test_low_temperature_approaches_greedy() -> None:
    generator = _generator()
    greedy = generator.generate("and ", SamplingSettings(length=60, greedy=True))
    assert generator.generate("and ", SamplingSettings(length=60, temperature=1e-4, seed=11)) == greedy


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("greedy", [True, False])
def test_streaming_equals_rerunning_the_whole_prefix(cell: str, greedy: bool) -> None:
    """Each streamed character costs one model step; its distribution must equal a full re-run."""
    generator = _generator(cell=cell, top_n=3)
    prompt = "Truth is a woman"
    settings = SamplingSettings(length=60, greedy=greedy, seed=None if greedy else 21)
    streamed = list(generator.stream(prompt, settings))
    model = generator.model
    assert model.training  # the generator puts the model back in the mode it found
    model.eval()
    ids = VOCAB.encode(prompt)
    with torch.no_grad():
        for produced in streamed:
            logits, _ = model(torch.tensor([ids]), None, last_only=True)
            probs = torch.softmax(logits[0], dim=-1)
            choice = VOCAB.chars.index(produced.char)
            assert produced.probability == pytest.approx(float(probs[choice]), abs=1e-5)
            if greedy:
                assert choice == int(torch.argmax(probs))
            ids.append(choice)
            after, _ = model(torch.tensor([ids]), None, last_only=True)
            top = torch.topk(torch.softmax(after[0], dim=-1), 3)
            assert [c for c, _ in produced.top] == [VOCAB.chars[int(i)] for i in top.indices]
            assert [p for _, p in produced.top] == pytest.approx(top.values.tolist(), abs=1e-5)


def test_unknown_prompt_characters_are_named_or_dropped() -> None:
    generator = _generator()
    with pytest.raises(UnknownCharactersError) as caught:
        generator.generate("Zebra€#", SamplingSettings(length=5, seed=1))
    assert caught.value.unknown == ["#", "Z", "€"]
    text = generator.generate("Zebra€#", SamplingSettings(length=20, seed=1), drop_unknown=True)
    assert generator.dropped == ["#", "Z", "€"]
    assert text == generator.generate("ebra", SamplingSettings(length=20, seed=1))


def test_empty_prompt_and_zero_length() -> None:
    generator = _generator()
    assert len(generator.generate("", SamplingSettings(length=30, seed=2))) == 30
    assert generator.generate("abe", SamplingSettings(length=0, seed=2)) == ""


def test_generator_for_run_loads_best_and_latest(tmp_path: Path) -> None:
    corpus_path = write_text(tmp_path / "words.txt", 4000)
    corpus = open_corpus(str(corpus_path), tmp_path / "data")
    run = train_run(tmp_path / "run", tiny_config(corpus_path, max_steps=6, eval_every=3), corpus)
    best = generator_for_run(run, "best", "cpu")
    latest = generator_for_run(run, "latest", "cpu")
    for name, tensor in best.model.state_dict().items():
        assert torch.isfinite(tensor).all(), name
    settings = SamplingSettings(length=40, seed=1)
    assert best.generate("the ", settings) == generator_for_run(run, "best", "cpu").generate("the ", settings)
    assert len(latest.generate("the ", settings)) == 40


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(("hidden_size", "threads"), [(24, 1), (24, 2), (24, 3), (25, 2), (24, 5)])
def test_cpu_step_matches_the_model_step(cell: str, hidden_size: int, threads: int) -> None:
    from tuirnn.cpu_step import CpuStep

    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell=cell, layers=3, hidden_size=hidden_size, embedding_size=8), len(VOCAB)).eval()
    hidden = [torch.randn(1, hidden_size) for _ in range(3)]
    cells = [torch.randn(1, hidden_size) for _ in range(3)] if cell == "lstm" else None
    step = CpuStep(model, hidden, cells, threads)
    with torch.no_grad():
        for position in range(30):
            char = position % len(VOCAB)
            torch.testing.assert_close(step(char), model.step_layers(torch.tensor([char]), hidden, cells),
                                       rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(step.hidden, hidden, strict=False):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    if cells is not None:
        assert step.cells is not None
        for ours, theirs in zip(step.cells, cells, strict=False):
            torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_cpu_step_is_used_on_the_cpu_at_any_thread_count(two_threads: None) -> None:
    from tuirnn.cpu_step import CpuStep, single_step

    model = _generator().model.eval()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        state = [torch.zeros(1, 24) for _ in range(2)]
        assert isinstance(single_step(model, torch.device("cpu"), state, state), CpuStep)


def test_generation_is_seeded_whatever_the_thread_count(two_threads: None) -> None:
    generator = _generator()
    first = generator.generate("The will", SamplingSettings(length=200, seed=11))
    assert generator.generate("The will", SamplingSettings(length=200, seed=11)) == first
    torch.set_num_threads(1)  # one row block instead of two: at most rounding differs, too little to change a draw
    assert generator.generate("The will", SamplingSettings(length=200, seed=11)) == first


def test_a_draw_is_the_multinomial_draw_of_the_same_seed() -> None:
    from tuirnn.sampling import _draw

    torch.manual_seed(0)
    for seed in range(40):
        probs = torch.softmax(3 * torch.randn(len(VOCAB)), dim=-1)
        if seed % 2:
            probs[torch.rand(len(VOCAB)) < 0.6] = 0.0  # what top-k and top-p leave
        theirs, ours = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        noise = torch.empty_like(probs)
        drawn = [_draw(probs, ours, noise) for _ in range(25)]
        assert drawn == [int(torch.multinomial(probs, 1, generator=theirs)) for _ in range(25)]
        assert all(probs[choice] > 0 for choice in drawn)


@pytest.mark.parametrize("settings", [SamplingSettings(length=20, greedy=True),
                                      SamplingSettings(length=20, seed=3, temperature=0.7, top_k=5)])
def test_nan_weights_are_a_clear_error_not_text(settings: SamplingSettings) -> None:
    generator = _generator()
    with torch.no_grad():
        generator.model.rnn.weight_hh_l1[3, 5] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        generator.generate("The will", settings)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_cpu_step_keeps_the_weights_it_was_made_with(cell: str) -> None:
    import copy

    from tuirnn.cpu_step import CpuStep

    model = _generator(cell).model.eval()
    hidden = [torch.randn(1, 24) for _ in range(2)]
    cells = [torch.randn(1, 24) for _ in range(2)] if cell == "lstm" else None
    step, untouched = CpuStep(model, hidden, cells, 2), CpuStep(copy.deepcopy(model), hidden, cells, 2)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3)  # as training on would
        for char in (5, 1, 7):
            assert torch.equal(step(char), untouched(char))


def test_logits_that_overflow_at_the_temperature_are_a_clear_error() -> None:
    generator = _generator()
    with torch.no_grad():
        generator.model.head.bias[3] = 1e36  # finite, but over float32's range once divided by 0.001
    with pytest.raises(CheckpointError, match="overflowing"):
        generator.generate("The will", SamplingSettings(length=5, seed=1, temperature=0.001))
    assert len(generator.generate("The will", SamplingSettings(length=5, greedy=True))) == 5
