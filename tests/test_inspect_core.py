"""Explore's core: recorded activations equal the model's own forward pass, probes give known answers, the unit
finder ranks a planted unit first, and gate statistics, surprise, the n-gram baseline, the temperature strip
and the colour scales say what they should."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from helpers import make_text
from inspect_helpers import CLOSE, OPEN, PLANTED_UNIT, planted_model, quoted_text, random_model, vocab_of

from tuirnn.corpus import corpus_from_text
from tuirnn.inspection import activations, probes
from tuirnn.inspection.activations import BLOCK, record
from tuirnn.inspection.baseline import MAX_ORDER, ngram_baseline, ngram_baselines
from tuirnn.inspection.errors import InspectError
from tuirnn.inspection.gates import gate_saturation, saturation_scatter
from tuirnn.inspection.palette import DIVERGING, SURPRISAL, band_of, coloured, legend, marks, plain_legend, style_of
from tuirnn.inspection.recording import QUANTITIES, Recording, scaled
from tuirnn.inspection.surprise import surprise, top_predictions
from tuirnn.inspection.temperature import STRIP_TEMPERATURES, temperature_strip
from tuirnn.inspection.texts import fit_to_vocab
from tuirnn.inspection.units import correlations, rank_units
from tuirnn.models import WEIGHT_NAMES
from tuirnn.sampling import Generator

TEXT = make_text(80, seed=3)
VOCAB = vocab_of(make_text(2000, seed=3))


@torch.no_grad()
def _stepped(model, ids: list[int]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Every layer's h (and c) after each character, and the log-probabilities, from the model's own step."""
    layers, hidden = model.config.layers, model.config.hidden_size
    h = [torch.zeros(1, hidden) for _ in range(layers)]
    c = [torch.zeros(1, hidden) for _ in range(layers)] if model.config.cell == "lstm" else None
    hs, cs, logits = [], [], []
    for i in ids:
        logits.append(model.step_layers(torch.tensor([i]), h, c)[0])
        hs.append(torch.stack([x[0] for x in h]))
        if c is not None:
            cs.append(torch.stack([x[0] for x in c]))
    stacked_h = torch.stack(hs, dim=1).numpy()
    stacked_c = torch.stack(cs, dim=1).numpy() if c is not None else None
    return stacked_h, stacked_c, torch.log_softmax(torch.stack(logits), dim=-1).numpy()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_recorded_states_equal_the_models_own_forward(cell: str, layers: int) -> None:
    model = random_model(VOCAB, cell, layers, hidden=8, embedding=5, seed=layers)
    recording = record(model, VOCAB, TEXT)
    assert recording.quantities == QUANTITIES[cell]
    assert {name: array.shape for name, array in recording.values.items()} == {
        name: (layers, len(TEXT), 8) for name in QUANTITIES[cell]}
    h, c, log_probs = _stepped(model, VOCAB.encode(TEXT))
    np.testing.assert_allclose(recording.values["h"], h, atol=1e-5)
    np.testing.assert_allclose(recording.log_probs, log_probs, atol=1e-5)
    with torch.no_grad():  # and the sequence forward, as training runs it
        logits, _ = model(torch.tensor([VOCAB.encode(TEXT)]))
    np.testing.assert_allclose(recording.log_probs, torch.log_softmax(logits[0], -1).numpy(), atol=1e-5)
    if c is not None:
        np.testing.assert_allclose(recording.values["c"], c, atol=1e-5)


@torch.no_grad()
def _gates(model, h: np.ndarray, ids: list[int]) -> dict[str, np.ndarray]:
    """Every recorded gate from the definition, in float64: the layer's input x_t and h_{t-1} from `h`."""
    gates: dict[str, list[np.ndarray]] = {}
    x = model.embedding.weight.double()[ids].numpy()
    for layer in range(model.config.layers):
        w_ih, w_hh, b_ih, b_hh = (getattr(model.rnn, f"{name}_l{layer}").double().numpy() for name in WEIGHT_NAMES)
        before = np.concatenate([np.zeros((1, h.shape[2])), h[layer, :-1]])
        pre = x @ w_ih.T + b_ih + before @ w_hh.T + b_hh
        names = ("input", "forget", None, "output") if model.config.cell == "lstm" else ("reset", "update", None)
        for name, part in zip(names, np.split(pre, len(names), axis=1), strict=True):
            if name is not None:
                gates.setdefault(name, []).append(1 / (1 + np.exp(-part)))
        x = h[layer].astype(np.float64)
    return {name: np.stack(values) for name, values in gates.items()}


@pytest.mark.parametrize("onednn", [True, False])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recording_across_blocks_equals_the_models_own_step(cell: str, onednn: bool,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A text over two blocks long: the gates, c and h carry on across the blocks' edges, with the gates'
    products by oneDNN and by torch's own linear (where torch has no oneDNN)."""
    monkeypatch.setattr(activations, "_ONEDNN_LINEAR", onednn and activations._ONEDNN_LINEAR)
    text = make_text(2 * BLOCK + 37, seed=6)
    vocab = vocab_of(text)
    model = random_model(vocab, cell, 2, hidden=8, embedding=5, seed=6)
    recording = record(model, vocab, text)
    h, c, log_probs = _stepped(model, vocab.encode(text))
    np.testing.assert_allclose(recording.values["h"], h, atol=1e-5)
    np.testing.assert_allclose(recording.log_probs, log_probs, atol=1e-5)
    if c is not None:
        np.testing.assert_allclose(recording.values["c"], c, atol=1e-5)
    for name, expected in _gates(model, h, vocab.encode(text)).items():
        np.testing.assert_allclose(recording.values[name], expected, atol=1e-5)


def test_lstm_gates_give_back_the_hidden_state() -> None:
    recording = record(random_model(VOCAB, "lstm", 2, seed=4), VOCAB, TEXT)
    v = recording.values
    np.testing.assert_allclose(v["h"], v["output"] * np.tanh(v["c"]), atol=1e-5)
    for gate in ("input", "forget", "output"):
        assert ((v[gate] > 0) & (v[gate] < 1)).all()


@torch.no_grad()
def test_gru_gates_give_back_the_hidden_state() -> None:
    model = random_model(VOCAB, "gru", 2, seed=5)
    recording = record(model, VOCAB, TEXT)
    x = model.embedding(torch.tensor(VOCAB.encode(TEXT)))
    for layer in range(2):
        rnn = model.rnn
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}")
        h = torch.from_numpy(recording.values["h"][layer])
        before = torch.cat([torch.zeros(1, 8), h[:-1]])
        r = torch.from_numpy(recording.values["reset"][layer])
        z = torch.from_numpy(recording.values["update"][layer])
        n = torch.tanh((x @ w_ih.t() + b_ih)[:, 16:] + r * (before @ w_hh.t() + b_hh)[:, 16:])
        torch.testing.assert_close((1 - z) * n + z * before, h, atol=1e-5, rtol=1e-5)
        x = h


def test_recording_refuses_what_it_cannot_record() -> None:
    model = random_model(VOCAB, "rnn", 1)
    with pytest.raises(InspectError, match="no text"):
        record(model, VOCAB, "")
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        record(model, VOCAB, "ZZZ\u00e9")
    fitted = fit_to_vocab("the \u00e9 will", VOCAB)
    assert fitted.text == "the  will" and fitted.dropped == ("\u00e9",)
    with pytest.raises(InspectError, match="none of the text"):
        fit_to_vocab("\u00e9\u00e9", VOCAB)


# ----- probes ------------------------------------------------------------------------------------------------
def _on(values: np.ndarray) -> str:
    return "".join("1" if v else "0" for v in values)


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("quotes", 'a "bc" d', "00111000"),
    ("quotes", f"x {OPEN}y{CLOSE} z", "0011000"),
    ("brackets", "f(a[b])c)", "011111000"),
    ("word-start", "Hi there, x1", "100100000010"),
    ("capitalised", "The cat Sat.", "111000001110"),
    ("sentence-end", "Hi. Yo! ok", "0011001100"),
])
def test_probes_give_the_known_answer(name: str, text: str, expected: str) -> None:
    values = probes.probe_values(name, text)
    assert values.shape == (len(text),)
    assert _on(values) == expected
    assert probes.is_binary(name)


def test_line_position_counts_characters_since_a_newline() -> None:
    assert probes.probe_values("line", "ab\ncd\n\ne").tolist() == [1, 2, 0, 1, 2, 0, 0, 1]
    assert not probes.is_binary("line")


def test_span_probe_and_its_errors() -> None:
    assert _on(probes.probe_values("span", "abcdef", (1, 3))) == "011000"
    assert probes.parse_span("4:10") == (4, 10)
    for bad in ("4-10", "a:b", "7"):
        with pytest.raises(InspectError, match="START:END"):
            probes.parse_span(bad)
    with pytest.raises(InspectError, match="not inside"):
        probes.probe_values("span", "abc", (2, 9))
    with pytest.raises(InspectError, match="needs a span"):
        probes.probe_values("span", "abc")
    with pytest.raises(InspectError, match="unknown probe"):
        probes.probe_values("vowels", "abc")


# ----- units -------------------------------------------------------------------------------------------------
def test_correlations_match_numpy_and_constant_units_score_zero() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(200, 4)).astype(np.float32)
    values[:, 2] = 0.5
    probe = rng.normal(size=200)
    r = correlations(values, probe)
    for unit in (0, 1, 3):
        assert r[unit] == pytest.approx(np.corrcoef(values[:, unit], probe)[0, 1], abs=1e-5)
    assert r[2] == 0.0


@pytest.mark.parametrize("quantity", ["h", "c"])
def test_the_planted_quote_unit_is_ranked_first(quantity: str) -> None:
    text = quoted_text(1500)
    vocab = vocab_of(text)
    recording = record(planted_model(vocab), vocab, text)
    probe = probes.probe_values("quotes", text)
    assert 0.2 < probe.mean() < 0.8
    scores = rank_units(recording, probe, (quantity,), top=5)
    best = scores[0]
    assert (best.layer, best.quantity, best.unit) == (0, quantity, PLANTED_UNIT)
    assert best.correlation > 0.99 and best.label == f"L1 {quantity}[{PLANTED_UNIT}]"
    assert best.on_share == pytest.approx(1.0) and best.off_share == pytest.approx(1.0)
    assert abs(scores[1].correlation) < best.correlation
    assert [abs(s.correlation) for s in scores] == sorted((abs(s.correlation) for s in scores), reverse=True)
    everywhere = rank_units(recording, probe, recording.quantities, top=3)
    assert (everywhere[0].layer, everywhere[0].unit) == (0, PLANTED_UNIT)


def test_ranking_refuses_a_constant_probe_and_foreign_quantities() -> None:
    recording = record(random_model(VOCAB, "gru", 1), VOCAB, TEXT)
    with pytest.raises(InspectError, match="same value"):
        rank_units(recording, np.zeros(len(TEXT)))
    with pytest.raises(InspectError, match="a gru has no c"):
        rank_units(recording, probes.probe_values("word-start", TEXT), ("c",))
    scores = rank_units(recording, probes.probe_values("line", TEXT), binary=False, top=2)
    assert len(scores) == 2 and scores[0].on_share is None


# ----- gates, surprise ---------------------------------------------------------------------------------------
def _synthetic(values: dict[str, np.ndarray], text: str, log_probs: np.ndarray | None = None) -> Recording:
    vocab = vocab_of(text)
    if log_probs is None:
        log_probs = np.full((len(text), len(vocab)), -math.log(len(vocab)), dtype=np.float32)
    return Recording(text, "lstm", vocab, values, log_probs)


def test_gate_saturation_counts_time_below_and_above() -> None:
    gate = np.array([[0.05, 0.5, 0.95], [0.05, 0.95, 0.95], [0.5, 0.95, 0.95], [0.05, 0.05, 0.95]], dtype=np.float32)
    values = {name: np.stack([gate]) for name in QUANTITIES["lstm"]}
    [inp, forget, out] = gate_saturation(_synthetic(values, "abcd"))
    assert (forget.layer, forget.gate) == (0, "forget")
    np.testing.assert_allclose(inp.left, [0.75, 0.25, 0.0])
    np.testing.assert_allclose(inp.right, [0.0, 0.5, 1.0])
    lines = saturation_scatter(inp, width=10, height=4)
    assert len(lines) == 6 and all(line.isascii() for line in lines)
    assert lines[0][2] == "." and lines[3][2 + 7] == "." and lines[1][2 + 2] == "."  # one mark per unit
    assert sum(line[2:].count(".") for line in lines[:4]) == 3
    assert gate_saturation(record(random_model(VOCAB, "rnn", 2), VOCAB, TEXT)) == []


def test_surprise_loss_bits_and_wrong_share() -> None:
    text = "abab"
    log_probs = np.log(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]], dtype=np.float32))
    found = surprise(_synthetic({}, text, log_probs))
    expected = [-math.log(0.9), -math.log(0.8), -math.log(0.7)]
    assert math.isnan(found.surprisal[0])
    np.testing.assert_allclose(found.surprisal[1:], expected, rtol=1e-6)
    assert found.loss == pytest.approx(sum(expected) / 3)
    assert found.bits_per_char == pytest.approx(found.loss / math.log(2))
    assert found.wrong_share == 0.0
    recording = _synthetic({}, text, log_probs)
    assert top_predictions(recording, 1) == [("b", pytest.approx(0.9)), ("a", pytest.approx(0.1))]
    assert top_predictions(recording, 0) == []
    with pytest.raises(InspectError):
        surprise(_synthetic({}, "a", log_probs[:1, :1]))


# ----- baseline ----------------------------------------------------------------------------------------------
def _naive(text: str, order: int, val_fraction: float, k: float) -> float:
    """The same model counted with dictionaries."""
    n_train = len(text) - int(len(text) * val_fraction)
    vocab_size = len(set(text))
    pairs, contexts = Counter(), Counter()
    for t in range(order - 1, n_train):
        pairs[text[t - order + 1 : t + 1]] += 1
        contexts[text[t - order + 1 : t]] += 1
    losses = [-math.log((pairs[text[t - order + 1 : t + 1]] + k) / (contexts[text[t - order + 1 : t]] + k * vocab_size))
              for t in range(n_train, len(text))]
    return sum(losses) / len(losses)


def test_ngram_baseline_equals_counting_by_hand() -> None:
    text = make_text(3000, seed=7)
    corpus = corpus_from_text(text, "words", "test")
    found = ngram_baselines(corpus, 0.1, k=0.05)
    assert sorted(found) == list(range(1, MAX_ORDER + 1))
    for order in range(1, MAX_ORDER + 1):
        assert found[order] == pytest.approx(_naive(text, order, 0.1, 0.05), rel=1e-9)
    assert ngram_baseline(corpus, 3) == pytest.approx(found[3])
    with pytest.raises(InspectError, match="order"):
        ngram_baseline(corpus, 6)


def test_ngram_baseline_of_a_periodic_text() -> None:
    corpus = corpus_from_text("abc" * 500, "abc", "test")
    found = ngram_baselines(corpus)
    assert found[1] == pytest.approx(math.log(3), abs=0.01)
    assert found[2] < 0.01 and found[5] < 0.01


# ----- the temperature strip and the colour scales -----------------------------------------------------------
def test_temperature_strip_is_seeded() -> None:
    generator = Generator(random_model(VOCAB, "gru", 1), VOCAB)
    first = temperature_strip(generator, "the will", seed=3, length=30)
    again = temperature_strip(generator, "the will", seed=3, length=30)
    assert [s.temperature for s in first] == list(STRIP_TEMPERATURES)
    assert first == again and all(len(s.text) == 30 for s in first)


def test_colour_scales_are_readable_without_colour() -> None:
    assert [band_of(DIVERGING, v).mark for v in (-1.0, -0.5, 0.0, 0.5, 1.0)] == ["=", "-", " ", "+", "#"]
    assert band_of(SURPRISAL, float("nan")).colour == ""
    assert marks([-0.9, 0.1, 0.9], DIVERGING) == "= #"
    assert plain_legend(DIVERGING).isascii()
    assert legend(DIVERGING, ansi=True).plain.isascii()
    sixteen = {"blue", "bright_blue", "red", "bright_red", "yellow", "bright_yellow", "magenta"}
    for bands in (DIVERGING, SURPRISAL):
        for band in bands:
            assert band.ansi in sixteen | {""}
            assert style_of(band, ansi=True) == (f"{band.ink} on {band.ansi}" if band.ansi else "")
    text = coloured("a\nb", [-0.9, 0.0, 0.9], DIVERGING, ascii_only=True)
    assert text.plain == "a$b"
    assert scaled("forget", np.array([0.0, 0.5, 1.0])).tolist() == [-1.0, 0.0, 1.0]
