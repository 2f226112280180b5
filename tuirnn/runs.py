"""The run directory: the one contract between a training run and everything that reads it.

    models/<run>/config.json        the RunConfig
                 vocab.json         {"chars": [...]}
                 run.json           corpus, device, parameters, status, best losses
                 metrics.jsonl      one JSON object per logged step or evaluation (append-only)
                 samples.jsonl      periodic samples
                 latest.safetensors full resumable state
                 best.safetensors   weights with the best validation loss

A sweep keeps its trials' run directories in <sweep>/trials/<trial>/, the sweep itself in
models/sweeps/<sweep>/ unless told otherwise (see tuirnn.sweeps.sweepdir).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tuirnn.atomic import atomic_write_bytes
from tuirnn.config import ConfigError, RunConfig
from tuirnn.corpus import CorpusError, Vocabulary
from tuirnn.errors import TuirnnError
from tuirnn.formatting import model_label
from tuirnn.locks import FileLock, LockBusy, is_held
from tuirnn.paths import PathError, confined, open_no_follow

CONFIG_FILE = "config.json"
VOCAB_FILE = "vocab.json"
INFO_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
LATEST_FILE = "latest.safetensors"
BEST_FILE = "best.safetensors"
TRAINING_LOCK_FILE = ".training.lock"
RUN_FILES = (CONFIG_FILE, VOCAB_FILE, INFO_FILE, METRICS_FILE, SAMPLES_FILE, LATEST_FILE, BEST_FILE)
SWEEP_FILE = "sweep.json"
TRIALS_DIR = "trials"
SWEEPS_DIR = "sweeps"
"""Where in models/ a sweep goes unless told otherwise."""


class RunError(TuirnnError):
    """A run directory is missing, incomplete or damaged."""


class RunInUse(RunError):
    """Another process is training this run."""


def new_directory(path: Path, other: str) -> Path:
    """Make `path` for a new run or sweep: missing or empty, and not a link or a file (`other` says what to
    pick instead)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise RunError(f"{path} exists and is not a directory: pick {other}")
    if path.exists() and any(path.iterdir()):
        raise RunError(f"{path} already exists and is not empty: resume it with --resume or pick {other}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _take_lock(run_path: Path) -> FileLock:
    lock = FileLock(run_path / TRAINING_LOCK_FILE)
    try:
        lock.acquire()
    except LockBusy:
        raise RunInUse(f"{run_path} is being trained by another process: stop that one first") from None
    return lock


def default_models_dir() -> Path:
    return Path(os.environ.get("TUIRNN_MODELS_DIR", "models"))


def new_run_name(config: RunConfig, corpus_name: str) -> str:
    m = config.model
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe_corpus = re.sub(r"[^A-Za-z0-9_.-]+", "-", corpus_name)[:32] or "corpus"
    return f"{safe_corpus}-{m.cell}{m.layers}x{m.hidden_size}-{stamp}"


def _write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete line; a torn last line (a writer killed mid-line) is skipped."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN or infinity: such a value is written as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass
class RunDir:
    path: Path
    config: RunConfig
    vocab: Vocabulary
    info: dict[str, Any]
    _lock: FileLock | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def latest_path(self) -> Path:
        return self.path / LATEST_FILE

    @property
    def best_path(self) -> Path:
        return self.path / BEST_FILE

    def claim(self) -> None:
        """Take the training lock before writing anything: a second trainer (another terminal, the app, a
        resumed sweep) or a delete is refused instead of interleaving with this process's writes."""
        if self._lock is None:
            self._lock = _take_lock(self.path)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @contextlib.contextmanager
    def training_lock(self) -> Iterator[None]:
        """Held while this process trains the run (taken here unless `claim()` took it earlier); released
        when training ends."""
        self.claim()
        try:
            yield
        finally:
            self.release()

    @classmethod
    def create(cls, path: Path, config: RunConfig, vocab: Vocabulary, info: dict[str, Any],
               claim: bool = False) -> RunDir:
        """Create the run's directory and files; the lock is taken before the first file is written, and
        kept on return with `claim` (by the process that goes on to train it)."""
        existed = Path(path).exists()
        path = new_directory(Path(path), "another run name")
        run = cls(path, config, vocab, {"created": time.time(), "status": "created", **info})
        run.claim()
        try:
            if any(entry.name != TRAINING_LOCK_FILE for entry in path.iterdir()):  # another creator got here first
                run.release()
                raise RunError(f"{path} already exists and is not empty: pick another name")
            try:
                _write_json(path / CONFIG_FILE, config.to_dict())
                atomic_write_bytes(path / VOCAB_FILE, vocab.to_json().encode("utf-8"))
                _write_json(path / INFO_FILE, run.info)
            except BaseException:  # a full disk, say: take back what was written, leave no half a run
                for name in (CONFIG_FILE, VOCAB_FILE, INFO_FILE):
                    with contextlib.suppress(OSError):
                        (path / name).unlink()
                run.release()
                if not existed:
                    with contextlib.suppress(OSError):
                        path.rmdir()
                raise
        finally:
            if not claim:
                run.release()
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        path = Path(path)
        if not path.is_dir():
            raise RunError(f"no run directory at {path}")
        try:
            config = RunConfig.from_dict(json.loads((path / CONFIG_FILE).read_text(encoding="utf-8")))
            vocab = Vocabulary.from_json((path / VOCAB_FILE).read_text(encoding="utf-8"))
            info_path = path / INFO_FILE
            info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
        except FileNotFoundError as exc:
            raise RunError(f"{path} is not a tuirnn run: {Path(exc.filename).name} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ConfigError, CorpusError) as exc:
            raise RunError(f"{path} has a damaged run file: {exc}") from None
        if not isinstance(info, dict):
            raise RunError(f"{path} has a damaged run file: {INFO_FILE} is not a JSON object")
        return cls(path, config, vocab, info)

    @classmethod
    def open_claimed(cls, path: Path) -> RunDir:
        """Open a run to write to it: its lock is taken before it is read, so what is read is what no other
        process is writing."""
        cls.open(path)  # a missing or damaged run is said as such, before a lock file is made in it
        for name in RUN_FILES:
            if (Path(path) / name).is_symlink():  # the writer would replace it, and read through it first
                raise RunError(f"{Path(path) / name} is a symbolic link; refusing to write this run")
        lock = _take_lock(Path(path))
        try:
            run = cls.open(path)
        except BaseException:
            lock.release()
            raise
        run._lock = lock
        return run

    def update_config(self, config: RunConfig) -> None:
        self.config = config
        _write_json(self.path / CONFIG_FILE, config.to_dict())

    def update_info(self, **values: Any) -> None:
        self.info.update({k: finite_or_none(v) for k, v in values.items()})
        _write_json(self.path / INFO_FILE, self.info)

    def append_metrics(self, record: dict[str, Any]) -> None:
        self._append(METRICS_FILE, record)

    def append_sample(self, record: dict[str, Any]) -> None:
        self._append(SAMPLES_FILE, record)

    def _append(self, filename: str, record: dict[str, Any]) -> None:
        line = json.dumps({k: finite_or_none(v) for k, v in record.items()}, ensure_ascii=False)
        fd = open_no_follow(self.path / filename, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def metrics(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.path / METRICS_FILE)

    def samples(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.path / SAMPLES_FILE)

    def truncate_logs_after(self, step: int) -> None:
        """Drop records written after the checkpoint a resume starts from, so the curve has no repeats."""
        for filename in (METRICS_FILE, SAMPLES_FILE):
            records = [r for r in _read_jsonl(self.path / filename) if int(r.get("step", 0)) <= step]
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            atomic_write_bytes(self.path / filename, text.encode("utf-8"))

    def checkpoint_for(self, which: str) -> Path:
        """`best` falls back to `latest` for runs that never evaluated."""
        if which not in ("best", "latest"):
            raise RunError(f"checkpoint must be 'best' or 'latest', not {which!r}")
        preferred = self.best_path if which == "best" else self.latest_path
        if preferred.exists():
            return preferred
        if self.latest_path.exists():
            return self.latest_path
        raise RunError(f"{self.path} has no checkpoint yet")


@dataclass(frozen=True)
class RunSummary:
    name: str
    """The directory's name; a sweep's trial is named <sweep>/<trial>."""
    path: Path
    corpus: str
    architecture: str
    steps: int
    best_val_loss: float | None
    best_val_bpc: float | None
    status: str
    modified: float
    sweep_name: str | None = None
    """The name of the sweep this run is a trial of."""


def summarize(run: RunDir, sweep_name: str | None = None) -> RunSummary:
    m = run.config.model
    info = run.info
    modified = 0.0
    for entry in run.path.iterdir():
        with contextlib.suppress(OSError):  # a temp file can be renamed away while we look
            if entry.is_file() and not entry.name.startswith("."):  # locks and temp files are not the run
                modified = max(modified, entry.stat().st_mtime)
    return RunSummary(
        name=f"{sweep_name}/{run.name}" if sweep_name else run.name,
        path=run.path,
        corpus=str(info.get("corpus", run.config.data.corpus)),
        architecture=model_label(m),
        steps=int(info.get("step", 0)),
        best_val_loss=info.get("best_val_loss"),
        best_val_bpc=info.get("best_val_bpc"),
        status=live_status(run.path, info),
        modified=modified,
        sweep_name=sweep_name,
    )


LIVE_STATUSES = ("created", "running")
"""Statuses that only a live trainer may show: without one holding the lock, the run was interrupted."""


def live_status(run_path: Path, info: dict[str, Any], default: str = "unknown") -> str:
    """The status in `info` (run.json), with `interrupted` for a `running` run whose trainer died (SIGKILL,
    a crash, a power loss): liveness comes from the lock, which the kernel drops with its process."""
    status = str(info.get("status", default))
    if status in LIVE_STATUSES and not is_held(Path(run_path) / TRAINING_LOCK_FILE):
        return "interrupted"
    return status


def _entries(directory: Path) -> list[Path]:
    """What `directory` holds; nothing where it is missing or unreadable."""
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def sweeps_in(directory: Path) -> list[Path]:
    """The sweep directories directly in `directory`; unreadable entries are left out."""
    found = []
    for path in _entries(Path(directory)):
        with contextlib.suppress(OSError):
            if (path / SWEEP_FILE).is_file():
                found.append(path)
    return found


def _sweeps(models_dir: Path) -> list[Path]:
    """The sweeps whose trials are listed with the runs: in models/sweeps/ and, placed with --out, in models/."""
    return sweeps_in(models_dir / SWEEPS_DIR) + sweeps_in(models_dir)


def list_runs(models_dir: Path) -> list[RunSummary]:
    """Every readable run, sweeps' trials included, newest first; damaged or unreadable directories are
    skipped, not fatal."""
    models_dir = Path(models_dir)
    places: list[tuple[Path, str | None]] = [(path, None) for path in _entries(models_dir)]
    places += [(trial, sweep.name) for sweep in _sweeps(models_dir) for trial in _entries(sweep / TRIALS_DIR)]
    found = []
    for path, sweep_name in places:
        try:
            if (path / CONFIG_FILE).exists():
                found.append(summarize(RunDir.open(path), sweep_name))
        except (RunError, OSError, TypeError, ValueError):
            continue
    return sorted(found, key=lambda s: s.modified, reverse=True)


def generation_default(runs: list[RunSummary]) -> RunSummary | None:
    """The run to generate from when nobody chose: the newest run that finished with a validation (not a
    sweep's short trial, not a run still training), else the newest with any steps."""
    finished = [r for r in runs if r.sweep_name is None and r.best_val_loss is not None
                and r.status in ("completed", "early-stopped", "stopped")]
    trained = [r for r in runs if r.steps > 0]
    for candidates in (finished, trained):
        if candidates:
            return max(candidates, key=lambda r: r.modified)
    return None


def run_label(summary: RunSummary) -> str:
    """A run as a list shows it: its name and enough to choose it (steps, best validation loss, date)."""
    best = f", val {summary.best_val_loss:.3f}" if summary.best_val_loss is not None else ""
    when = time.strftime("%m-%d %H:%M", time.localtime(summary.modified))
    return f"{summary.name} ({summary.steps:,} steps{best}, {when})"


def listing_stamp(models_dir: Path) -> tuple[int, ...]:
    """Changes when a run or a sweep's trial is created or removed, by this process or another."""
    models_dir = Path(models_dir)
    directories = [models_dir, models_dir / SWEEPS_DIR, *(sweep / TRIALS_DIR for sweep in _sweeps(models_dir))]
    stamps = []
    for directory in directories:
        with contextlib.suppress(OSError):
            stamps.append(directory.stat().st_mtime_ns)
    return tuple(stamps)


def delete_run(path: Path, root: Path) -> None:
    """Delete the run at `path`, which must be a real directory inside `root` and not being trained."""
    path = Path(path)
    try:
        confined(root, path, "run")
    except PathError as exc:
        raise RunError(f"not deleting: {exc}") from None
    if path.is_symlink() or not (path / CONFIG_FILE).is_file():
        raise RunError(f"{path} is not a tuirnn run; not deleting it")
    with _take_lock(path):
        shutil.rmtree(path)
