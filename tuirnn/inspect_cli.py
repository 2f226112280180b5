"""`tuirnn inspect RUN`: which units of a run track a feature of a text, how surprised the model is by the
text, how its gates saturate, and what an n-gram model achieves on the same split; printed as lines (with a
coloured strip on a terminal, ASCII marks otherwise) or as one JSON object.

Kept light to import (no torch at module level) because tuirnn/cli.py builds every parser. Bad input raises
TuirnnError subclasses, which tuirnn/cli.py's main() prints as one line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuirnn.cli_output import note, say
from tuirnn.config import ConfigError
from tuirnn.inspection.probes import PROBES, SPAN, parse_span
from tuirnn.inspection.texts import DEFAULT_LENGTH

if TYPE_CHECKING:
    from tuirnn.corpus import Corpus
    from tuirnn.inspection.gates import GateSaturation
    from tuirnn.inspection.recording import Recording
    from tuirnn.inspection.surprise import Surprise
    from tuirnn.inspection.units import UnitScore

EXIT_OK = 0
STRIP_CHARS = 1200
"""The most characters of the text the strip shows."""
PLAIN_WIDTH = 100


def add_inspect_parser(subparsers: Any,
                       resolve: Callable[[argparse.Namespace, Path], Path]) -> argparse.ArgumentParser:
    """The `inspect` command; `resolve` turns RUN (a name under the models directory, or a path) into a run
    directory as the other commands do."""
    probes = "; ".join(f"{name}: {probe.description}" for name, probe in PROBES.items())
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inspect", help="find the units that track a feature of a text, and how surprised the model is",
        description="Run a model over a text and rank its units by how well they track a probe (" + probes +
                    f"; {SPAN}: the characters START:END given by --span). Prints the ranked units, the top unit "
                    "over the text, the text's loss, and the n-gram baselines of the run's corpus.")
    parser.add_argument("run", type=Path, metavar="RUN",
                        help="run directory (or a run name under the models directory)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", type=Path, metavar="FILE", help="explore this text file (default: the corpus)")
    source.add_argument("--corpus-offset", type=int, metavar="N",
                        help="explore the run's corpus from character N (default: where validation starts)")
    parser.add_argument("--length", type=int, default=DEFAULT_LENGTH, metavar="L",
                        help=f"characters to explore (default: {DEFAULT_LENGTH})")
    parser.add_argument("--probe", choices=[*PROBES, SPAN], default="quotes", help="the feature (default: quotes)")
    parser.add_argument("--span", metavar="START:END",
                        help="with --probe span: the marked characters (default: none; required by that probe)")
    parser.add_argument("--quantity", default="h", metavar="Q",
                        help="h, or for an LSTM c, input, forget, output, for a GRU reset, update; all ranks every "
                             "one (default: h)")
    parser.add_argument("--top", type=int, default=10, metavar="K", help="units to list (default: 10)")
    parser.add_argument("--threshold", type=float, default=0.3, metavar="T",
                        help="on/off threshold on the -1..+1 scale, as LSTMVis (default: 0.3)")
    parser.add_argument("--gates", action="store_true", help="also print each gate's saturation scatter")
    parser.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                        help="which weights: the best validation loss, or the latest saved (default: best)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    parser.set_defaults(resolve_run=resolve)
    return parser


def _check(args: argparse.Namespace) -> tuple[int, int] | None:
    """Refuse bad flags before any work; the span, if one is asked for."""
    if args.length < 1:
        raise ConfigError(f"--length must be at least 1, not {args.length}")
    if args.top < 1:
        raise ConfigError(f"--top must be at least 1, not {args.top}")
    if not 0.0 <= args.threshold < 1.0:
        raise ConfigError(f"--threshold must be in [0, 1), not {args.threshold:g}")
    if (args.probe == SPAN) != (args.span is not None):
        raise ConfigError("--span goes with --probe span, and --probe span needs --span START:END")
    return parse_span(args.span) if args.span is not None else None


def cmd_inspect(args: argparse.Namespace) -> int:
    from tuirnn.catalog import default_data_dir
    from tuirnn.corpus import CorpusError
    from tuirnn.inspection.activations import record
    from tuirnn.inspection.baseline import ngram_baselines
    from tuirnn.inspection.errors import InspectError
    from tuirnn.inspection.gates import gate_saturation
    from tuirnn.inspection.probes import is_binary, probe_values
    from tuirnn.inspection.subject import open_subject
    from tuirnn.inspection.surprise import surprise
    from tuirnn.inspection.texts import corpus_excerpt, file_text, fit_to_vocab, run_corpus, validation_start
    from tuirnn.inspection.units import rank_units
    from tuirnn.runs import RunDir

    span = _check(args)
    run = RunDir.open(args.resolve_run(args, args.run))
    subject = open_subject(run, args.checkpoint)
    if subject.fell_back:
        note(f"warning: {run.name} has no best checkpoint yet (it has not validated): inspecting its latest, "
             f"{subject.checkpoint}")
    val_fraction = run.config.data.val_fraction
    corpus: Corpus | None = None
    try:
        corpus = run_corpus(run, args.data_dir or default_data_dir())
    except (CorpusError, OSError) as exc:  # a corpus moved or not downloaded: only the excerpt needs it
        if args.text is None:
            raise
        note(f"warning: no n-gram baseline: {exc}")
    if args.text is not None:
        text, where = file_text(args.text, args.length), str(args.text)
    else:
        assert corpus is not None
        offset = args.corpus_offset if args.corpus_offset is not None else validation_start(corpus, val_fraction)
        text, where = corpus_excerpt(corpus, offset, args.length), f"{corpus.name} from character {offset:,}"
    fitted = fit_to_vocab(text, subject.vocab)
    if fitted.dropped:
        note(f"warning: dropped characters not in the vocabulary: {', '.join(map(repr, fitted.dropped))}")
    recording = record(subject.model, subject.vocab, fitted.text)
    quantities = recording.quantities if args.quantity == "all" else (args.quantity,)
    probe = probe_values(args.probe, recording.text, span)
    if probe.min() == probe.max():
        what = PROBES[args.probe].description if args.probe in PROBES else "the span"
        raise InspectError(f"probe {args.probe!r} ({what}) never changes in this text: pick another text "
                           "(--text, --corpus-offset, --length) or another probe")
    scores = rank_units(recording, probe, quantities, args.top, is_binary(args.probe), args.threshold)
    surprised = surprise(recording)
    baselines = ngram_baselines(corpus, val_fraction) if corpus is not None else None
    gates = gate_saturation(recording) if args.gates else []
    head = {"run": str(run.path), "checkpoint": subject.checkpoint, "text": where, "characters": len(recording),
            "probe": args.probe, "quantities": list(quantities)}
    if args.json:
        say(json.dumps(_as_json(head, scores, surprised, baselines, gates, run.info.get("best_val_loss"))))
        return EXIT_OK
    _print_report(head, recording, scores, surprised, baselines, gates, run.info.get("best_val_loss"))
    return EXIT_OK


def _as_json(head: dict[str, Any], scores: list[UnitScore], surprised: Surprise,
             baselines: dict[int, float] | None, gates: list[GateSaturation], best: float | None) -> dict[str, Any]:
    return {
        **head,
        "units": [{"layer": s.layer + 1, "quantity": s.quantity, "unit": s.unit, "correlation": round(s.correlation, 4),
                   "on_share": s.on_share, "off_share": s.off_share} for s in scores],
        "surprise": {"loss": surprised.loss, "bits_per_char": surprised.bits_per_char,
                     "wrong_share": surprised.wrong_share},
        "best_val_loss": best,
        "ngram_baseline": {str(order): loss for order, loss in baselines.items()} if baselines else None,
        "gates": [{"layer": g.layer + 1, "gate": g.gate, "left_saturated": g.left.round(4).tolist(),
                   "right_saturated": g.right.round(4).tolist()} for g in gates],
    }


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_report(head: dict[str, Any], recording: Recording, scores: list[UnitScore], surprised: Surprise,
                  baselines: dict[int, float] | None, gates: list[GateSaturation], best: float | None) -> None:
    from tuirnn.inspection.gates import saturation_scatter

    say(f"run {head['run']}, {head['checkpoint']}; text: {head['text']}, {head['characters']:,} characters")
    say(f"text loss {surprised.loss:.4f} nats/char ({surprised.bits_per_char:.3f} bits/char), "
        f"{surprised.wrong_share:.1%} of characters got p < 0.5")
    if best is not None:
        say(f"the run's best validation loss: {best:.4f} nats/char")
    if baselines:
        say("n-gram baseline (validation, nats/char): " +
            ", ".join(f"order {order} {loss:.4f}" for order, loss in baselines.items()))
    say(f"units tracking {head['probe']!r}, by |correlation|:")
    say(f"{'rank':>4}  {'unit':<16} {'r':>7} {'on':>5} {'off':>5}")
    for rank, score in enumerate(scores, 1):
        say(f"{rank:>4}  {score.label:<16} {score.correlation:>+7.3f} {_share(score.on_share):>5} "
            f"{_share(score.off_share):>5}")
    _print_strip(recording, scores[0])
    for gate in gates:
        say(f"L{gate.layer + 1} {gate.gate} gate: share of time right-saturated (>0.9, up) against "
            f"left-saturated (<0.1, across), one mark per unit (. 1, : 2-3, o 4-7, 8 8-15, @ 16+)")
        for line in saturation_scatter(gate):
            say("  " + line)


def _print_strip(recording: Recording, score: UnitScore) -> None:
    """The top unit over the text: coloured backgrounds on a terminal, a line of ASCII marks under each line of
    text otherwise."""
    from tuirnn.inspection.palette import DIVERGING, coloured, legend, marks, plain_legend, shown
    from tuirnn.inspection.recording import scale_labels, scaled

    text = recording.text[:STRIP_CHARS]
    values = scaled(score.quantity, recording.unit(score.quantity, score.layer, score.unit))[: len(text)].tolist()
    cut = f" (its first {len(text):,} characters)" if len(text) < len(recording) else ""
    labels = scale_labels(score.quantity)
    if not sys.stdout.isatty():
        say(f"{score.label} over the text{cut}; {plain_legend(DIVERGING, labels)}")
        for start in range(0, len(text), PLAIN_WIDTH):
            say("".join(shown(c, ascii_only=True) for c in text[start : start + PLAIN_WIDTH]))
            say(marks(values[start : start + PLAIN_WIDTH], DIVERGING))
        return
    from rich.console import Console

    console = Console(highlight=False)
    ansi = console.color_system == "standard"
    ascii_only = not (console.encoding or "").lower().startswith("utf")
    say(f"{score.label} over the text{cut}:")
    console.print(legend(DIVERGING, ansi, labels))
    width = max(20, shutil.get_terminal_size().columns)
    for start in range(0, len(text), width):
        piece = text[start : start + width]
        console.print(coloured(piece, values[start : start + width], DIVERGING, ansi, ascii_only), soft_wrap=True)
