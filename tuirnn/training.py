"""The training engine shared by the CLI, the TUI and sweeps.

`Trainer.run()` is a plain blocking loop, safe to call on a background thread. It publishes events to
subscribers, obeys a `TrainingControl` between steps, keeps data on the device, reads metrics from the
device only every `log_every` steps, and turns NaN loss, out-of-memory and disk errors into a `Failed`
event while the last good checkpoint stays on disk.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tuirnn.batching import Batches, make_batches, make_eval_batches, to_device_ids
from tuirnn.budget import Cadence, Pacer, count_between, evaluation_chars
from tuirnn.checkpoint import (
    Checkpoint,
    save_checkpoint,
    vocab_digest,
)
from tuirnn.config import MAX_STEPS, ConfigError, RunConfig, run_length, validate
from tuirnn.corpus import Corpus
from tuirnn.devices import describe_device, memory_in_use, pick_device
from tuirnn.errors import TuirnnError
from tuirnn.events import (
    CheckpointSaved,
    Evaluated,
    Event,
    Failed,
    Finished,
    Overfitting,
    Paused,
    Resumed,
    Sampled,
    Started,
    StepMetrics,
    TrainingControl,
)
from tuirnn.generation_record import LIVE_WEIGHTS, WeightsOrigin
from tuirnn.models import CharRNN, State, state_tensors
from tuirnn.optimization import lr_factor, make_optimizer
from tuirnn.remote_control import ControlServer
from tuirnn.resume import restore, rng_snapshot
from tuirnn.runs import RunDir, RunError, RunInUse
from tuirnn.sampling import Generator
from tuirnn.sampling_settings import SamplingSettings
from tuirnn.subscribers import Subscribers
from tuirnn.throughput import Progress
from tuirnn.train_step import TrainStep
from tuirnn.validation_watch import ValidationWatch

SAMPLE_TEMPERATURE = 0.8
EARLY_LOG_STEPS = frozenset({1, 2, 5})
"""Steps logged whatever log_every says, so that a run shows its first losses within seconds."""
LN2 = math.log(2)


OUT_OF_MEMORY = "out of memory: lower batch_size, seq_len or hidden_size"


class NonFiniteLoss(RuntimeError):
    pass


def check_weights(model: CharRNN, step: int) -> None:
    """NonFiniteLoss when a weight is NaN or infinite: such weights are never saved or sampled from."""
    if not bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()):
        raise NonFiniteLoss(f"the weights became NaN or infinite by step {step}; training stopped and "
                            "the last good checkpoint is kept (try a lower learning rate or gradient clipping)")


def is_out_of_memory(error: RuntimeError) -> bool:
    """torch's words for a failed allocation: CUDA's, MPS's, and the CPU allocator's `[enforce fail at
    alloc_cpu.cpp] ... can't allocate memory`."""
    text = str(error).lower()
    return "out of memory" in text or "can't allocate memory" in text or "cannot allocate memory" in text


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        corpus: Corpus,
        run: RunDir | None = None,
        resume: bool = False,
        control: TrainingControl | None = None,
        resume_from: str = "latest",
    ):
        self.config = validate(config)
        self.corpus = corpus
        self.run_dir = run
        self.resume = resume
        self.resume_from = resume_from
        """`latest` (an exact resume) or `best` (its weights only, when latest is damaged)."""
        self.control = control or TrainingControl()
        self._subscribers: Subscribers[Event] = Subscribers(lambda: self.run_dir.path if self.run_dir else None)
        self.step = 0
        self.best_val_loss: float | None = None
        self.last_val_loss: float | None = None
        self.last_loss: float | None = None
        self.model_lock = threading.Lock()
        """Held during each optimizer step; `live_generator` holds it to copy the weights."""
        self._device: torch.device | None = None
        self._model: CharRNN | None = None
        self._watch = ValidationWatch(self.config.train.patience)
        self._pacer = Pacer(Cadence(0, 0, 0))
        """Set when training starts: the settings' steps, or a time budget's plan."""
        self._t0 = self._started = 0.0
        """perf_counter() when the run started and when its first step did."""
        self._last_mean_loss: float | None = None
        """The mean training loss of the latest logged interval (a single batch's is too noisy to compare)."""
        self._stopped_early = False
        self._costs = [0.0, 0.0]
        """Seconds the latest validation and sample took, for the ETA."""
        if resume and run is None:
            raise ConfigError("resuming needs a run directory")

    def prepare(self) -> CharRNN:
        """Pick the device and build the model from the config's seed. `run()` does this first; until then the
        trainer has no device and no weights. Calling it again returns the same model."""
        if self._model is None:
            self._device = pick_device(self.config.train.device)
            torch.manual_seed(self.config.train.seed)
            self._model = CharRNN(self.config.model, len(self.corpus.vocab)).to(self._device)
        return self._model

    @property
    def device(self) -> torch.device:
        if self._device is None:
            raise RuntimeError("the trainer has no device before prepare()")
        return self._device

    def live_generator(self) -> Generator | None:
        """A generator over a copy of the weights being trained, taken between two optimizer steps, so it
        can draw text on another thread while training goes on; None before the model exists."""
        model = self._model  # set last by prepare(): the device is set when this is
        if model is None:
            return None
        with self.model_lock:
            weights = {name: value.detach().clone() for name, value in model.state_dict().items()}
            step = self.step
        copy = CharRNN(self.config.model, len(self.corpus.vocab)).to(self.device)
        copy.load_state_dict(weights)
        generator = Generator(copy, self.corpus.vocab, self.device)
        generator.origin = WeightsOrigin(str(self.run_dir.path) if self.run_dir else "", LIVE_WEIGHTS, step)
        return generator

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        self._subscribers.add(callback)

    def _emit(self, event: Event) -> None:
        self._subscribers.emit(event)

    def run(self) -> Finished | Failed:
        """Train to the end (or until stopped); never raises for expected failures."""
        try:
            with self.run_dir.training_lock() if self.run_dir is not None else contextlib.nullcontext():
                if self.run_dir is None:
                    return self._run_locked()
                with ControlServer(self.run_dir.path, self.control) as server:  # other processes steer it
                    self.subscribe(server.observe)
                    return self._run_locked()
        except RunInUse as exc:  # the run belongs to the other process: report, but write nothing into it
            event = Failed(self.step, "error", str(exc), self.run_dir.path if self.run_dir else None)
            self._emit(event)
            return event

    def _run_locked(self) -> Finished | Failed:
        try:
            return self._train()
        except NonFiniteLoss as exc:
            return self._fail("nan", str(exc))
        except torch.cuda.OutOfMemoryError:
            return self._fail("oom", "out of GPU memory: lower batch_size, seq_len or hidden_size")
        except TuirnnError as exc:
            return self._fail("error", str(exc))
        except OSError as exc:
            return self._fail("io", f"cannot write the run: {exc.strerror or exc}")
        except MemoryError:
            return self._fail("oom", OUT_OF_MEMORY)
        except RuntimeError as exc:
            if is_out_of_memory(exc):
                return self._fail("oom", OUT_OF_MEMORY)
            return self._fail("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")

    def _fail(self, kind: str, message: str) -> Failed:
        if self.run_dir is not None:
            with contextlib.suppress(OSError):
                self.run_dir.update_info(status="failed", error=message)
        event = Failed(self.step, kind, message, self.run_dir.path if self.run_dir else None)
        self._emit(event)
        return event

    def _train(self) -> Finished | Failed:
        self._t0 = time.perf_counter()  # a time budget counts from here: building and capturing count too
        cfg = self.config
        d, t = cfg.data, cfg.train
        model = self.prepare()
        device = self.device
        optimizer = make_optimizer(t, model, device)
        train_ids, val_ids = self.corpus.split(d.val_fraction)
        batches = make_batches(to_device_ids(train_ids, device), d, t.batch_size)
        val_on_device = to_device_ids(val_ids, device)
        eval_chars = min(t.eval_max_chars, len(val_ids) - 1)
        eval_batches = make_eval_batches(val_on_device, d, t.batch_size, eval_chars)
        per_epoch = len(batches)
        restored: State | None = None
        if self.resume:
            assert self.run_dir is not None
            back = restore(self.run_dir, self.corpus, model, optimizer, device, self.resume_from)
            self.step, self.best_val_loss, self.last_val_loss = back.step, back.best_val_loss, back.val_loss
            self.last_loss, restored = back.last_loss, back.state
            self._watch.restore(back.watch)
            if self.run_dir.config != self.config:  # saved only now that the checkpoint is known to be good
                self.run_dir.update_config(self.config)
        self._pacer = self._first_pacer(per_epoch)
        params = list(model.parameters())
        chars_per_step = batches.batch_size * batches.seq_len
        step_runner = TrainStep(model, optimizer, batches.batch(0), batches.targets_last, d.carry_state, t.clip_norm,
                                t.precision, t.cuda_graph)
        step_runner.set_state(restored)
        with self.model_lock:
            step_runner.prepare(*batches.batch(self.step % per_epoch))
        device_text = describe_device(device)
        if device.type == "cuda":
            note = f" ({step_runner.precision_note})" if step_runner.precision_note else ""
            device_text += f", {step_runner.precision}{note}, {step_runner.description}"
        if self.run_dir is not None:
            self.run_dir.update_info(status="running", device=device_text, total_steps=self._shown_total())
        self._emit(Started(self.run_dir.path if self.run_dir else None, device_text,
                           sum(p.numel() for p in params), self.corpus.describe(), self.step, self._shown_total(),
                           per_epoch, chars_per_step))

        def carried() -> State | None:
            return step_runner.state if d.carry_state else None

        start_step = self.step
        self._started = time.perf_counter()
        progress = Progress(self._started)
        loss_sum = torch.zeros((), device=device)
        loss = torch.zeros((), device=device)
        grad_norm: torch.Tensor | None = None
        control = self.control
        def evaluate() -> float:
            self._costs[0] = self._timed(lambda: self._evaluate_and_save(model, optimizer, carried(), eval_batches,
                                                                         device))
            return self._costs[0]

        def sample() -> float:
            self._costs[1] = self._timed(lambda: self._sample(model, device))
            return self._costs[1]

        pacer = self._pacer
        while self.step < pacer.cadence.total_steps:
            cadence = pacer.cadence
            if control.paused:
                paused_at = time.perf_counter()
                self._emit(Paused(self.step))
                while control.paused:  # a save request wakes the wait: save, then stay paused
                    control.wait_while_paused()
                    if control.take_save_request():
                        self._save(model, optimizer, carried(), device)
                progress.excluded_s += time.perf_counter() - paused_at
                pacer.pause(time.perf_counter() - paused_at)
                self._emit(Resumed(self.step))
            if control.stop_requested:
                if progress.steps:  # report the partial interval so the curve ends where training did
                    self._log(progress, loss_sum, loss, grad_norm, params, optimizer, per_epoch, chars_per_step)
                self._save(model, optimizer, carried(), device)
                return self._finish("stopped")
            if control.take_save_request():
                progress.excluded_s += self._timed(lambda: self._save(model, optimizer, carried(), device))
            index = self.step % per_epoch
            for group in optimizer.param_groups:
                group["lr"] = t.lr * lr_factor(t, self.step, cadence.total_steps)
            with self.model_lock:
                loss, grad_norm = step_runner.run(*batches.batch(index), fresh_state=index == 0)
            loss_sum += loss
            self.step += 1
            progress.steps += 1
            pacer.end_if_spent(self.step, time.perf_counter())
            at_end = self.step >= pacer.cadence.total_steps
            if self.step % t.log_every == 0 or self.step in EARLY_LOG_STEPS or at_end:
                self._log(progress, loss_sum, loss, grad_norm, params, optimizer, per_epoch, chars_per_step)
                loss_sum.zero_()
            clock = pacer.clock
            if clock is not None and pacer.probe_done(self.step, time.perf_counter()):
                seconds_per_step = (time.perf_counter() - self._started) / (self.step - start_step)
                clock.evaluation_s, clock.sample_s = evaluate(), sample()
                progress.excluded_s += clock.evaluation_s + clock.sample_s
                affordable = evaluation_chars(eval_chars, clock.evaluation_s, clock.budget_s)
                if affordable < eval_chars:  # later validations on less text, so that they fit the budget
                    eval_batches = make_eval_batches(val_on_device, d, t.batch_size, affordable)
                    clock.evaluation_s *= affordable / eval_chars
                self._plan(seconds_per_step)
                continue
            if cadence.eval_every and self.step % cadence.eval_every == 0 and not at_end:
                seconds = evaluate()
                progress.excluded_s += seconds
                if self._watch.out_of_patience:
                    if progress.steps:
                        self._log(progress, loss_sum, loss, grad_norm, params, optimizer, per_epoch, chars_per_step)
                    self._stopped_early = True
                    break
                if clock is not None and progress.seconds_per_step:  # plan the rest with what was measured
                    clock.evaluation_s = seconds
                    self._plan(progress.seconds_per_step, keep_spacing=True)
            if cadence.sample_every and self.step % cadence.sample_every == 0 and not at_end:
                progress.excluded_s += sample()
        if self._stopped_early:  # validated and saved at this very step
            return self._finish("early-stopped")
        if self.step > start_step or not self.resume:
            self._evaluate_and_save(model, optimizer, carried(), eval_batches, device)
            if pacer.cadence.sample_every:
                self._sample(model, device)
        return self._finish("completed")

    def _first_pacer(self, per_epoch: int) -> Pacer:
        """The settings' steps and cadence; for a time budget, a probe first, or what an interrupted budgeted
        run left of its budget and plan."""
        t = self.config.train
        if run_length(t) != "budget":
            return Pacer(Cadence(t.max_steps or t.epochs * per_epoch, t.eval_every, t.sample_every))
        saved = self.run_dir.info.get("planned") if self.resume and self.run_dir is not None else None
        if saved is None:
            return Pacer.for_budget(t.time_budget, self._t0, self.step, MAX_STEPS)
        try:
            return Pacer.resumed(saved, t.time_budget, self._t0, self.step, MAX_STEPS)
        except ValueError as exc:
            raise RunError(f"run.json's time-budget plan is damaged ({exc}): resume with --max-steps N") from None

    def _plan(self, seconds_per_step: float, keep_spacing: bool = False) -> None:
        """Plan the rest of the budget; the first plan is saved at once (later ones with the next checkpoint),
        so a run killed before its next validation resumes with what is left of the budget."""
        now = time.perf_counter()
        cadence = self._pacer.plan(self.step, seconds_per_step, now, keep_spacing)
        if not keep_spacing and self.run_dir is not None:
            self.run_dir.update_info(planned=self._pacer.saved(now), total_steps=cadence.total_steps)

    def _shown_total(self) -> int:
        return self._pacer.shown_total(self.step, time.perf_counter(), self._started)

    @staticmethod
    def _timed(action: Callable[[], object]) -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started

    def _log(self, progress: Progress, loss_sum: torch.Tensor, loss: torch.Tensor, grad_norm: torch.Tensor | None,
             params: list[torch.nn.Parameter], optimizer: torch.optim.Optimizer, per_epoch: int,
             chars_per_step: int) -> None:
        mean_loss = float(loss_sum) / max(progress.steps, 1)
        last_loss = float(loss.detach())
        if not (math.isfinite(mean_loss) and math.isfinite(last_loss)):
            raise NonFiniteLoss(
                f"loss became {mean_loss} by step {self.step}; training stopped and the last good checkpoint "
                "is kept (try a lower learning rate or gradient clipping)"
            )
        if grad_norm is None:
            grads = [p.grad for p in params if p.grad is not None]
            grad_norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
        now = time.perf_counter()
        seconds_per_step = progress.rate(now)
        total = self._shown_total()
        eta = self._pacer.eta(now)
        if eta is None:  # the steps left at the shown speed, and the validations and samples among them
            cadence = self._pacer.cadence
            eta = (total - self.step) * seconds_per_step
            for every, seconds in zip((cadence.eval_every, cadence.sample_every), self._costs, strict=True):
                eta += count_between(every, self.step, total) * seconds if every else 0.0
        metrics = StepMetrics(
            step=self.step,
            total_steps=total,
            epoch=self.step / per_epoch,
            loss=mean_loss,
            last_loss=last_loss,
            lr=float(optimizer.param_groups[0]["lr"]),
            grad_norm=float(grad_norm),
            chars_per_s=chars_per_step / seconds_per_step,
            elapsed_s=now - self._started,
            eta_s=eta,
            memory_bytes=memory_in_use(self.device),
        )
        self.last_loss, self._last_mean_loss = last_loss, mean_loss
        progress.reset(now)
        if self.run_dir is not None:
            self.run_dir.append_metrics({
                "step": metrics.step, "epoch": round(metrics.epoch, 4), "loss": mean_loss, "last_loss": last_loss,
                "lr": metrics.lr, "grad_norm": metrics.grad_norm, "chars_per_s": round(metrics.chars_per_s, 1),
                "time": time.time(),
            })
        self._emit(metrics)

    @torch.no_grad()
    def evaluate(self, model: CharRNN, eval_batches: Batches) -> float:
        """Mean cross-entropy (nats per char) over the held-out split, in eval mode."""
        model.eval()
        try:
            total = torch.zeros((), device=self.device)
            count = 0
            state: State | None = None
            for index in range(len(eval_batches)):
                inputs, targets = eval_batches.batch(index)
                logits, state = model(inputs, state if self.config.data.carry_state else None,
                                      last_only=eval_batches.targets_last)
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
                count += targets.numel()
            return float(total) / count
        finally:
            model.train()

    def _evaluate_and_save(self, model: CharRNN, optimizer: torch.optim.Optimizer, state: State | None,
                           eval_batches: Batches, device: torch.device) -> None:
        val_loss = self.evaluate(model, eval_batches)
        if not math.isfinite(val_loss):
            raise NonFiniteLoss(f"validation loss became {val_loss} at step {self.step}; "
                                "the last good checkpoint is kept")
        best = self.best_val_loss is None or val_loss < self.best_val_loss
        self.last_val_loss = val_loss
        if best:
            self.best_val_loss = val_loss
        if self.run_dir is not None:
            self.run_dir.append_metrics({"step": self.step, "val_loss": val_loss, "val_bpc": val_loss / LN2,
                                         "time": time.time()})
        self._emit(Evaluated(self.step, val_loss, val_loss / LN2, best))
        train_loss = self._last_mean_loss
        if self._watch.observe(self.step, best, train_loss) and train_loss is not None:
            watch = self._watch
            assert self.best_val_loss is not None and watch.train_loss_at_best is not None
            self._emit(Overfitting(self.step, val_loss, self.best_val_loss, watch.best_step, train_loss,
                                   watch.train_loss_at_best))
        if best and self.run_dir is not None:
            save_checkpoint(self.run_dir.best_path, Checkpoint(self.step, model.state_dict(), self._info(),
                                                               vocab_sha256=vocab_digest(self.corpus.vocab)))
            self._emit(CheckpointSaved(self.step, self.run_dir.best_path, "best"))
        self._save(model, optimizer, state, device)

    def _info(self) -> dict[str, float | int | bool | None]:
        return {"best_val_loss": self.best_val_loss, "val_loss": self.last_val_loss, "last_loss": self.last_loss,
                "time": time.time(), **self._watch.saved()}

    def _save(self, model: CharRNN, optimizer: torch.optim.Optimizer, state: State | None,
              device: torch.device) -> None:
        if self.run_dir is None:
            return
        check_weights(model, self.step)  # the loss is only read every log_every steps: never save bad weights
        carried = state_tensors(state) if state is not None else []
        checkpoint = Checkpoint(self.step, model.state_dict(), self._info(), optimizer.state_dict(),
                                rng_snapshot(device), carried, vocab_digest(self.corpus.vocab))
        save_checkpoint(self.run_dir.latest_path, checkpoint)
        best_bpc = self.best_val_loss / LN2 if self.best_val_loss is not None else None
        planned = self._pacer.saved(time.perf_counter())
        self.run_dir.update_info(step=self.step, best_val_loss=self.best_val_loss, best_val_bpc=best_bpc,
                                 last_loss=self.last_loss, val_loss=self.last_val_loss,
                                 **({"planned": planned, "total_steps": planned["total_steps"]} if planned else {}))
        self._emit(CheckpointSaved(self.step, self.run_dir.latest_path, "latest"))

    def _sample(self, model: CharRNN, device: torch.device) -> None:
        t = self.config.train
        check_weights(model, self.step)  # sampling from NaN weights would fail deep inside torch
        generator = Generator(model, self.corpus.vocab, device, top_n=0)
        settings = SamplingSettings(length=t.sample_length, temperature=SAMPLE_TEMPERATURE, seed=t.sample_seed)
        text = generator.generate(t.sample_prompt, settings, drop_unknown=True)
        if self.run_dir is not None:
            self.run_dir.append_sample({"step": self.step, "prompt": t.sample_prompt, "seed": t.sample_seed,
                                        "text": text, "time": time.time()})
        self._emit(Sampled(self.step, t.sample_prompt, text, t.sample_seed))

    def _finish(self, reason: str) -> Finished:
        if self.run_dir is not None:
            self.run_dir.update_info(status=reason, step=self.step, finished=time.time())
        event = Finished(self.step, reason, self.last_loss, self.last_val_loss, self.best_val_loss,
                         self.run_dir.path if self.run_dir else None)
        self._emit(event)
        return event
