"""CharRNN, the size estimate and the two batch layouts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from tuirnn.batching import StreamBatches, WindowBatches, make_batches, make_eval_batches, to_device_ids
from tuirnn.config import DataConfig, ModelConfig, RunConfig, no_op_warnings, preset
from tuirnn.corpus import CorpusError
from tuirnn.models import CharRNN, detach_state, state_from_tensors, state_tensors
from tuirnn.sizing import estimate_size, parameter_count


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize(("layers", "hidden", "embedding", "vocab"), [(1, 16, 8, 30), (2, 24, 12, 65), (3, 7, 5, 2)])
def test_parameter_count_matches_the_model(cell: str, layers: int, hidden: int, embedding: int, vocab: int) -> None:
    config = ModelConfig(cell=cell, layers=layers, hidden_size=hidden, embedding_size=embedding, dropout=0.1)
    model = CharRNN(config, vocab)
    real = sum(p.numel() for p in model.parameters())
    assert parameter_count(config, vocab) == real
    assert estimate_size(config, vocab, batch_size=4, seq_len=10).parameters == real


def test_memory_estimate_grows_with_the_batch() -> None:
    config = ModelConfig(hidden_size=64)
    small = estimate_size(config, 80, batch_size=8, seq_len=50)
    large = estimate_size(config, 80, batch_size=64, seq_len=50)
    assert large.training_bytes > small.training_bytes > 16 * small.parameters


def test_dropout_with_one_layer_is_reported_as_a_no_op() -> None:
    one_layer = RunConfig(model=ModelConfig(layers=1, dropout=0.3))
    assert any("dropout has no effect with 1 layer" in note for note in no_op_warnings(one_layer))
    for quiet in (ModelConfig(layers=2, dropout=0.3), ModelConfig(layers=1, dropout=0.3, output_dropout=True),
                  ModelConfig(layers=1, dropout=0.0)):
        assert not any("dropout" in note for note in no_op_warnings(RunConfig(model=quiet)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when asked for dropout on a 1-layer RNN; we must not ask
        CharRNN(one_layer.model, 10)


def test_output_dropout_regularises_one_layer_models() -> None:
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell="gru", layers=1, hidden_size=16, embedding_size=8, dropout=0.5,
                                output_dropout=True), 12)
    ids = torch.randint(0, 12, (2, 9))
    first, _ = model(ids)
    second, _ = model(ids)
    assert not torch.equal(first, second)
    model.eval()
    assert torch.equal(model(ids)[0], model(ids)[0])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_forward_shapes_and_state(cell: str) -> None:
    config = ModelConfig(cell=cell, layers=2, hidden_size=10, embedding_size=6, dropout=0.0)
    model = CharRNN(config, 20)
    ids = torch.randint(0, 20, (3, 7))
    logits, state = model(ids)
    assert logits.shape == (3, 7, 20)
    last, _ = model(ids, last_only=True)
    assert torch.allclose(last, logits[:, -1])
    zeros = model.initial_state(3, "cpu")
    assert torch.allclose(model(ids, zeros)[0], logits)
    tensors = state_tensors(state)
    assert len(tensors) == (2 if cell == "lstm" else 1) and tensors[0].shape == (2, 3, 10)
    rebuilt = state_from_tensors(cell, tensors)
    assert all(torch.equal(a, b) for a, b in zip(state_tensors(rebuilt), tensors, strict=True))
    assert all(not t.requires_grad for t in state_tensors(detach_state(state)))
    # running the halves with the carried state equals running the whole sequence
    head, carried = model(ids[:, :4])
    tail, _ = model(ids[:, 4:], carried)
    assert torch.allclose(torch.cat([head, tail], dim=1), logits, atol=1e-6)


def _ids(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.long)


def test_stream_rows_continue_across_batches() -> None:
    batches = StreamBatches(_ids(1000), batch_size=4, seq_len=10)
    stream_len = 999 // 4
    assert len(batches) == stream_len // 10
    for index in range(len(batches) - 1):
        inputs, targets = batches.batch(index)
        following, _ = batches.batch(index + 1)
        assert inputs.shape == targets.shape == (4, 10)
        assert torch.equal(targets, inputs + 1)
        assert torch.equal(following[:, 0], inputs[:, -1] + 1)
    rows = torch.cat([batches.batch(i)[0] for i in range(len(batches))], dim=1)
    for j in range(4):
        assert torch.equal(rows[j], _ids(1000)[j * stream_len : j * stream_len + rows.shape[1]])


def test_streams_over_real_text(nietzsche_path, tmp_path) -> None:
    from tuirnn.catalog import open_corpus

    corpus = open_corpus(str(nietzsche_path), tmp_path / "data")
    text = nietzsche_path.read_text(encoding="utf-8")
    batches = make_batches(to_device_ids(corpus.ids[:5000], torch.device("cpu")), DataConfig(seq_len=50), 8)
    row = "".join(corpus.vocab.decode(batches.batch(i)[0][2].tolist()) for i in range(len(batches)))
    start = text.index(row[:200])
    assert text[start : start + len(row)] == row


def _study_windows(ids: np.ndarray, maxlen: int, step: int) -> tuple[list[np.ndarray], list[int]]:
    """The study's Keras-style data preparation, written out as it was."""
    sentences, next_chars = [], []
    for i in range(0, len(ids) - maxlen, step):
        sentences.append(ids[i : i + maxlen])
        next_chars.append(int(ids[i + maxlen]))
    return sentences, next_chars


def test_windows_reproduce_the_study_overlapping_last_target() -> None:
    data = preset("study-rnn1").data
    ids = np.random.default_rng(0).integers(0, 50, size=700)
    batches = make_batches(torch.from_numpy(ids), data, batch_size=16)
    sentences, next_chars = _study_windows(ids, maxlen=32, step=1)
    assert isinstance(batches, WindowBatches) and batches.targets_last
    assert len(batches) == len(sentences) // 16
    for index in range(len(batches)):
        inputs, targets = batches.batch(index)
        rows = range(index * 16, index * 16 + 16)
        assert np.array_equal(inputs.numpy(), np.stack([sentences[r] for r in rows]))
        assert targets.tolist() == [next_chars[r] for r in rows]


def test_windows_reproduce_the_study_non_overlapping_all_targets() -> None:
    data = preset("study-rnn2").data
    ids = np.random.default_rng(1).integers(0, 50, size=2000)
    batches = make_batches(torch.from_numpy(ids), data, batch_size=4)
    sentences, _ = _study_windows(ids, maxlen=42, step=42)
    assert not batches.targets_last and len(batches) == len(sentences) // 4
    for index in range(len(batches)):
        inputs, targets = batches.batch(index)
        for row in range(4):
            start = (index * 4 + row) * 42
            assert np.array_equal(inputs[row].numpy(), sentences[index * 4 + row])
            assert np.array_equal(targets[row].numpy(), ids[start + 1 : start + 43])


def test_last_window_uses_the_final_character() -> None:
    batches = WindowBatches(_ids(11), batch_size=1, seq_len=5, stride=5, targets_last=True)
    assert len(batches) == 2
    inputs, target = batches.batch(1)
    assert inputs.tolist() == [[5, 6, 7, 8, 9]] and target.tolist() == [10]


@pytest.mark.parametrize("data", [DataConfig(seq_len=10), DataConfig(layout="windows", seq_len=10, targets="last"),
                                  DataConfig(layout="windows", seq_len=10, stride=3)])
def test_too_short_text_is_a_corpus_error(data: DataConfig) -> None:
    with pytest.raises(CorpusError, match="too short"):
        make_batches(_ids(30), data, batch_size=8)
    with pytest.raises(CorpusError, match="too short"):
        make_batches(_ids(10), data, batch_size=1)


def test_eval_batches_shrink_to_fit_the_split() -> None:
    data = DataConfig(seq_len=10)
    small = make_eval_batches(_ids(45), data, batch_size=64, max_chars=10_000)
    assert small.batch_size == 4 and len(small) == 1
    capped = make_eval_batches(_ids(10_000), data, batch_size=8, max_chars=801)
    assert capped.batch_size == 8 and len(capped) == 10
    windows = make_eval_batches(_ids(60), DataConfig(layout="windows", seq_len=10, stride=10), 64, 10_000)
    assert windows.batch_size == 5 and len(windows) == 1


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 3])
def test_single_step_path_matches_the_sequence_forward(cell: str, layers: int) -> None:
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(cell=cell, layers=layers, hidden_size=24, embedding_size=8, dropout=0.3), 17).eval()
    ids = torch.randint(0, 17, (3, 9))
    with torch.no_grad():
        expected, expected_state = model(ids)
        state = None
        steps = []
        for position in range(ids.shape[1]):
            logits, state = model.step(ids[:, position], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), expected, rtol=1e-5, atol=1e-5)
    for got, want in zip(state if isinstance(state, tuple) else (state,),
                         expected_state if isinstance(expected_state, tuple) else (expected_state,), strict=False):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
