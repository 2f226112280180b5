"""Corpus loading: vocabulary, strict decoding, normalisation, splits, the cache and the offline default."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tuirnn import corpus as corpus_module
from tuirnn import corpus_cache
from tuirnn.catalog import OFFLINE_NAME, list_corpora, open_corpus
from tuirnn.corpus import CorpusError, UnknownCharactersError, Vocabulary, encode_text, read_text, text_sha256


def test_vocabulary_is_sorted_and_round_trips(nietzsche_path: Path, tmp_path: Path) -> None:
    text = nietzsche_path.read_text(encoding="utf-8")
    corpus = open_corpus(str(nietzsche_path), tmp_path / "data")
    assert corpus.vocab.chars == tuple(sorted(set(text)))
    assert len(corpus) == len(text)
    assert corpus.vocab.decode(corpus.ids.tolist()) == text
    sentence = "SUPPOSING that Truth is a woman--what then?"
    assert corpus.vocab.decode(corpus.vocab.encode(sentence)) == sentence
    assert corpus.vocab.encode("ab") == [corpus.vocab.chars.index("a"), corpus.vocab.chars.index("b")]


def test_unknown_characters_are_named_or_dropped() -> None:
    vocab = Vocabulary(tuple("abc "))
    with pytest.raises(UnknownCharactersError) as caught:
        vocab.encode("a€b~")
    assert caught.value.unknown == ["~", "€"]
    assert "'€'" in str(caught.value) and "'~'" in str(caught.value)
    assert vocab.decode(vocab.encode("a€b~", drop_unknown=True)) == "ab"


@pytest.mark.parametrize("raw", ['{"chars": ["ab"]}', '{"chars": ["a", "a"]}', '["a"]', '{"chars": [1]}'])
def test_malformed_vocabulary_file_is_refused(raw: str) -> None:
    with pytest.raises(CorpusError, match="malformed"):
        Vocabulary.from_json(raw)


def test_vocabulary_json_round_trip_keeps_unicode() -> None:
    vocab = Vocabulary(tuple(sorted("é\n\"\\ab€")))
    assert Vocabulary.from_json(vocab.to_json()) == vocab


@pytest.mark.parametrize(("raw", "offset"), [(b"hello \xff world", 6), (b"ok\n\xc3", 3),
                                              (b"\xef\xbb\xbfabc\x80def", 6)])
def test_strict_decoding_names_the_byte_offset(tmp_path: Path, raw: bytes, offset: int) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(raw)
    with pytest.raises(CorpusError, match=f"not valid UTF-8 at byte offset {offset};"):
        read_text(path)


def test_replace_and_latin1_load_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("café au lait, naïve".encode("latin-1"))
    assert read_text(path, "replace") == "caf\ufffd au lait, na\ufffdve"
    assert read_text(path, "latin-1") == "café au lait, naïve"


def test_utf8_byte_order_mark_is_not_part_of_the_text(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfhello")
    assert read_text(path) == "hello"


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "is empty"),
    (b"  \n\t\r\n ", "only whitespace"),
    (b"text\x00with a NUL", "looks binary, not text (NUL byte at byte offset 4)"),
])
def test_unusable_files_are_refused(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "corpus.txt"
    path.write_bytes(raw)
    with pytest.raises(CorpusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_corpus(str(path), tmp_path / "data")


def test_missing_path_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no corpus file .*named corpora: default"):
        open_corpus(str(tmp_path / "nope.txt"), tmp_path / "data")
    with pytest.raises(CorpusError, match="is a directory"):
        open_corpus(str(tmp_path), tmp_path / "data")


def test_named_corpus_not_downloaded_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="tuirnn data fetch nietzsche"):
        open_corpus("nietzsche", tmp_path / "data")


def test_crlf_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"first line\r\nsecond line\r\nthird\r\n")
    corpus = open_corpus(str(path), tmp_path / "data")
    assert "\r" not in corpus.vocab.chars
    assert corpus.vocab.decode(corpus.ids.tolist()) == "first line\nsecond line\nthird\n"


def test_newlines_to_spaces(nietzsche_path: Path, tmp_path: Path) -> None:
    plain = open_corpus(str(nietzsche_path), tmp_path / "data")
    flat = open_corpus(str(nietzsche_path), tmp_path / "data", newlines_to_spaces=True)
    assert "\n" in plain.vocab and "\n" not in flat.vocab
    assert len(flat) == len(plain)
    text = nietzsche_path.read_text(encoding="utf-8")
    assert flat.vocab.decode(flat.ids[:2000].tolist()) == text[:2000].replace("\n", " ")
    assert flat.sha256 != plain.sha256


def test_split_is_contiguous_ninety_ten(nietzsche_path: Path, tmp_path: Path) -> None:
    corpus = open_corpus(str(nietzsche_path), tmp_path / "data")
    train, val = corpus.split(0.1)
    assert len(val) == int(len(corpus) * 0.1)
    assert len(train) + len(val) == len(corpus)
    assert np.array_equal(np.concatenate([train, val]), corpus.ids)
    text = nietzsche_path.read_text(encoding="utf-8")
    assert corpus.vocab.decode(val.tolist()) == text[len(text) - len(val):]


def test_too_short_to_split(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("tiny text", encoding="utf-8")
    corpus = open_corpus(str(path), tmp_path / "data")
    with pytest.raises(CorpusError, match="too short to split"):
        corpus.split(0.1)


def _cache_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "cache").glob("*.safetensors"))


def test_cache_is_reused(shakespeare_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    first = open_corpus(str(shakespeare_path), data_dir)
    assert len(_cache_files(data_dir)) == 1

    def no_encoding(text: str) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(corpus_module, "encode_text", no_encoding)
    second = open_corpus(str(shakespeare_path), data_dir)
    assert np.array_equal(first.ids, second.ids)
    assert first.vocab == second.vocab and first.sha256 == second.sha256


@pytest.mark.parametrize("damage", [b"", b"garbage that is not safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{}"])
def test_corrupt_cache_is_ignored_and_rewritten(
    shakespeare_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes
) -> None:
    data_dir = tmp_path / "data"
    reference = open_corpus(str(shakespeare_path), data_dir)
    [cache] = _cache_files(data_dir)
    cache.write_bytes(damage)

    encodings = []
    real_encode = corpus_module.encode_text
    monkeypatch.setattr(corpus_module, "encode_text", lambda text: encodings.append(1) or real_encode(text))
    reloaded = open_corpus(str(shakespeare_path), data_dir)
    assert encodings == [1]
    assert np.array_equal(reloaded.ids, reference.ids) and reloaded.vocab == reference.vocab
    assert cache.stat().st_size > len(damage)

    monkeypatch.setattr(corpus_module, "encode_text", lambda text: pytest.fail("cache was not rewritten"))
    assert np.array_equal(open_corpus(str(shakespeare_path), data_dir).ids, reference.ids)


def test_cache_evicts_the_least_recently_used_past_its_bound(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    foreign = cache_dir / "notes.txt"
    foreign.write_bytes(b"x" * 10_000)
    texts = [f"text number {i} " * 300 for i in range(4)]
    paths = []
    for age, text in enumerate(texts[:3]):
        ids, vocab = encode_text(text)
        paths.append(corpus_cache.cache_path(cache_dir, text_sha256(text)))
        corpus_cache.write_cached(paths[-1], text_sha256(text), ids, vocab.to_json())
        os.utime(paths[-1], (1_000_000 + age, 1_000_000 + age))  # oldest first
    size = paths[0].stat().st_size
    assert corpus_cache.read_cached(paths[0], text_sha256(texts[0])) is not None  # used: now the most recent

    ids, vocab = encode_text(texts[3])
    newest = corpus_cache.cache_path(cache_dir, text_sha256(texts[3]))
    corpus_cache.write_cached(newest, text_sha256(texts[3]), ids, vocab.to_json(), max_bytes=int(2.5 * size))
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted([paths[0].name, newest.name, "notes.txt"])

    corpus_cache.write_cached(paths[1], text_sha256(texts[1]), ids, vocab.to_json(), max_bytes=size // 2)
    assert not paths[1].exists()  # a file larger than the whole cache is not cached at all


def test_encoding_matches_the_sorted_vocabulary(nietzsche_path: Path) -> None:
    text = nietzsche_path.read_text(encoding="utf-8") + "€𝄞"  # beyond one byte and beyond the BMP
    ids, vocab = encode_text(text)
    assert vocab.chars == tuple(sorted(set(text)))
    assert ids.dtype == np.uint8 and vocab.decode(ids.tolist()) == text
    wide_ids, wide_vocab = encode_text("".join(map(chr, range(0x400, 0x600))))
    assert wide_ids.dtype == np.int32 and wide_ids.tolist() == list(range(512)) and len(wide_vocab) == 512


def test_cache_keys_on_the_text(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = tmp_path / "a.txt"
    path.write_text("one version of the text\n" * 20, encoding="utf-8")
    first = open_corpus(str(path), data_dir)
    path.write_text("another version entirely\n" * 20, encoding="utf-8")
    second = open_corpus(str(path), data_dir)
    assert second.vocab.decode(second.ids.tolist()) == "another version entirely\n" * 20
    assert first.sha256 != second.sha256


def test_default_corpus_loads_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the default corpus must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    corpus = open_corpus("default", tmp_path / "data")
    assert corpus.name == OFFLINE_NAME
    assert len(corpus) > 100_000 and len(corpus.vocab) > 50
    train, val = corpus.split(0.1)
    assert len(train) > len(val) > 0
    assert open_corpus(OFFLINE_NAME, tmp_path / "data").sha256 == corpus.sha256


def test_list_corpora_reports_downloads(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "nietzsche.txt").write_text("x", encoding="utf-8")
    found = {status.name: status for status in list_corpora(data_dir)}
    assert found[OFFLINE_NAME].available and found[OFFLINE_NAME].path is None
    assert found["nietzsche"].available
    assert not found["tinyshakespeare"].available
