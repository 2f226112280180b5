"""What the Explore screen's worker threads compute: the recording of a run over a text, the units that track
a probe and the temperature strip, each as the message a worker posts (a failure becomes the message's error).
No widgets here, so the screen only starts the workers and draws what they post; torch is imported inside the
functions, never when the app starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuirnn.tui.screens.explore.parts import Explored, ExploreDone, RankDone, Request, StripDone

if TYPE_CHECKING:
    from pathlib import Path

    from tuirnn.corpus import Corpus
    from tuirnn.inspection.recording import Recording
    from tuirnn.inspection.subject import Subject

TOP_UNITS = 8
STRIP_LENGTH = 160


class Recorder:
    """Records runs over texts, keeping the last run's weights and corpus so moving through a text reloads
    neither."""

    def __init__(self) -> None:
        self._subjects: dict[str, tuple[float, Subject]] = {}
        self._corpora: dict[str, Corpus] = {}

    def _subject(self, run_path: Path) -> Subject:
        """The run's weights, loaded again only when its checkpoint has changed (one model at a time)."""
        from tuirnn.inspection.subject import open_subject
        from tuirnn.runs import RunDir

        run = RunDir.open(run_path)
        stamp = run.checkpoint_for("best").stat().st_mtime
        cached = self._subjects.get(str(run_path))
        if cached is None or cached[0] != stamp:
            cached = (stamp, open_subject(run, "best"))
            self._subjects = {str(run_path): cached}
        return cached[1]

    def _corpus(self, subject: Subject, data_dir: Path) -> Corpus:
        from tuirnn.inspection.texts import run_corpus

        key = str(subject.run.path)
        if key not in self._corpora:
            self._corpora = {key: run_corpus(subject.run, data_dir)}
        return self._corpora[key]

    def explored(self, request: Request, data_dir: Path) -> ExploreDone:
        try:
            return ExploreDone(request, self._recorded(request, data_dir))
        except Exception as exc:  # noqa: BLE001  (any failure becomes a visible message)
            return ExploreDone(request, None, _describe(exc))

    def _recorded(self, request: Request, data_dir: Path) -> Explored:
        from tuirnn.corpus import CorpusError
        from tuirnn.inspection.activations import record
        from tuirnn.inspection.baseline import ngram_baselines
        from tuirnn.inspection.gates import gate_saturation
        from tuirnn.inspection.surprise import surprise
        from tuirnn.inspection.texts import corpus_excerpt, fit_to_vocab, validation_start

        subject = self._subject(request.run_path)
        val_fraction = subject.run.config.data.val_fraction
        corpus: Corpus | None = None
        try:
            corpus = self._corpus(subject, data_dir)
        except (CorpusError, OSError):
            if request.source == "corpus":
                raise
        offset = None
        if request.source == "corpus":
            assert corpus is not None
            offset = request.offset if request.offset is not None else validation_start(corpus, val_fraction)
            offset = max(0, min(offset, len(corpus) - 1))
            text, where = corpus_excerpt(corpus, offset, request.length), f"{corpus.name} @{offset:,}"
        else:
            text, where = request.text[-request.length:], f"{request.source} text"
        fitted = fit_to_vocab(text, subject.vocab)
        recording = record(subject.model, subject.vocab, fitted.text)
        surprised = surprise(recording) if len(recording) > 1 else None
        baselines = ngram_baselines(corpus, val_fraction) if corpus is not None else None
        return Explored(subject, recording, surprised, gate_saturation(recording), where, offset,
                        len(corpus) if corpus is not None else None, baselines, fitted.dropped)


def ranked(key: tuple[object, ...], recording: Recording, probe: str, span: tuple[int, int] | None,
           quantity: str) -> RankDone:
    """The units of `quantity` that best track the probe over the recorded text."""
    from tuirnn.inspection.probes import is_binary, probe_values
    from tuirnn.inspection.units import rank_units

    try:
        values = probe_values(probe, recording.text, span)
        if values.min() == values.max():
            raise ValueError(f"probe {probe!r} never changes in this text: f for another probe, PgUp/PgDn or e for "
                             "another text")
        return RankDone(key, rank_units(recording, values, (quantity,), TOP_UNITS, is_binary(probe)))
    except Exception as exc:  # noqa: BLE001
        return RankDone(key, [], _describe(exc))


def strip(key: tuple[object, ...], subject: Subject, prompt: str, seed: int) -> StripDone:
    """Samples from one prompt and seed at the strip's temperatures."""
    from tuirnn.inspection.temperature import temperature_strip

    try:
        return StripDone(key, temperature_strip(subject.generator, prompt, seed, STRIP_LENGTH))
    except Exception as exc:  # noqa: BLE001
        return StripDone(key, [], _describe(exc))


def _describe(exc: Exception) -> str:
    """A worker's failure as the message the screen shows."""
    from tuirnn.errors import TuirnnError

    if isinstance(exc, (TuirnnError, ValueError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
