"""`tuirnn data`: the named corpora, downloading them (verified, atomic, bounded), the corpus cache, and
what a corpus holds. Light to import: no torch."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tuirnn.cli_output import say
from tuirnn.config import ConfigError, RunConfig
from tuirnn.corpus import DEFAULT_MAX_CORPUS_BYTES, MAX_CORPUS_BYTES_ENV
from tuirnn.formatting import human_bytes

EXIT_OK = 0


def add_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    data = commands.add_parser(
        "data", help="list, download and inspect corpora",
        description=f"Corpora. A corpus file must be a regular file of at most {DEFAULT_MAX_CORPUS_BYTES >> 30} GiB; "
                    f"set the environment variable {MAX_CORPUS_BYTES_ENV} to another number of bytes to change that.")
    data_commands = data.add_subparsers(dest="data_command", parser_class=parser_class, metavar="ACTION", required=True)
    data_commands.add_parser("list", help="named corpora and whether they are downloaded")
    fetch = data_commands.add_parser(
        "fetch", help="download a named corpus",
        description="Download a named corpus and check it (size, UTF-8, sha256) before it replaces anything. A corpus "
                    "without a pinned sha256 must match the first copy downloaded here (recorded in "
                    "DATA_DIR/checksums.json).")
    fetch.add_argument("name", help="a named corpus (see `tuirnn data list`)")
    fetch.add_argument("--url", help="download from this mirror instead: an http, https or file URL (default: the "
                                     "corpus's own URL)")
    fetch.add_argument("--force", action="store_true",
                       help="accept a copy that differs from the first one downloaded (unpinned corpora)")
    fetch.add_argument("--deadline", type=float, default=120.0, metavar="SECONDS",
                       help="give up when the download takes longer than this in all (default: 120)")
    data_commands.add_parser("clean", help="delete the corpus cache (DATA_DIR/cache); corpora stay")
    info = data_commands.add_parser("info", help="characters, vocabulary and split of a corpus")
    info.add_argument("corpus", help="named corpus, 'default' or a file path")
    info.add_argument("--newlines-to-spaces", action="store_true", help="replace newlines with spaces first")
    info.add_argument("--encoding-errors", default="strict", choices=("strict", "replace", "latin-1"),
                      help="what to do with text that is not valid UTF-8 (default: strict, refuse it)")


def run(args: argparse.Namespace, data_dir: Path) -> int:
    from tuirnn import catalog

    if args.data_command == "list":
        for status in catalog.list_corpora(data_dir):
            state = "built-in" if status.path is None else "downloaded" if status.available else "not downloaded"
            say(f"{status.name:<16} {state:<15} {status.description}")
        return EXIT_OK
    if args.data_command == "fetch":
        return _fetch(args.name, data_dir, args.url, args.force, args.deadline)
    if args.data_command == "clean":
        cleaned = catalog.clean(data_dir)
        say(f"removed {cleaned.files} cache files ({human_bytes(cleaned.bytes)}) from {data_dir / 'cache'}")
        return EXIT_OK
    corpus = catalog.open_corpus(args.corpus, data_dir, args.newlines_to_spaces, args.encoding_errors)
    train, val = corpus.split(RunConfig().data.val_fraction)
    say(corpus.describe())
    say(f"train {len(train):,} chars, validation {len(val):,} chars; sha256 {corpus.sha256}")
    say("vocabulary: " + "".join(c if c.isprintable() and c != " " else repr(c) for c in corpus.vocab.chars))
    return EXIT_OK


def _fetch(name: str, data_dir: Path, url: str | None, force: bool, deadline_s: float) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from tuirnn.catalog import fetch

    if not 0 < deadline_s <= 86_400:
        raise ConfigError(f"--deadline must be more than 0 and at most 86400 seconds, not {deadline_s:g}")
    if sys.stderr.isatty():
        with Progress(f"[bold]{name}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True) as bar:
            task = bar.add_task(name, total=None)
            path = fetch(name, data_dir, url, lambda done, total: bar.update(task, completed=done, total=total),
                         deadline_s=deadline_s, force=force)
    else:
        path = fetch(name, data_dir, url, deadline_s=deadline_s, force=force)
    say(f"{name} saved to {path}")
    return EXIT_OK
