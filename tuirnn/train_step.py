"""One training step on fixed buffers, replayed from a CUDA graph where that is possible.

At the study's sizes a step is a chain of many small kernels, and launching them one at a time from
Python leaves a GPU mostly idle. Forward, loss, backward and gradient clipping are captured once in a
CUDA graph that reads its inputs from fixed buffers and is replayed at every step (the fused optimizer
step stays outside it, so the learning rate and the checkpoint format need no special handling).
On the CPU, on MPS, and wherever capture is unavailable or fails, the same step runs eagerly on the
batch itself, as a plain training loop would, and computes the same thing.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from tuirnn.models import CharRNN, State, detach_state, state_tensors

WARMUP_ITERATIONS = 3
"""Eager forward/backward passes before capture, so lazy initialisation (cuDNN plans, workspaces,
allocator pools) happens outside the graph, as torch's documentation asks."""
TIMED_REPLAYS = 10
"""Replays timed per precision when `auto` measures them; they leave the weights alone (the optimizer
step is not in the graph)."""


def resolve_precision(requested: str, device: torch.device) -> tuple[str, str]:
    """The precision to train in (before any measurement) and, where it differs from the request, why.

    `auto` starts as TF32 on GPUs that have it (Ampere or newer), never slower than FP32; where the step
    is captured, `TrainStep.prepare` then times it against bf16 autocast (`measured_precisions`)."""
    has_tf32 = device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8
    if requested == "auto":
        return ("tf32" if has_tf32 else "fp32"), ""
    if requested == "tf32" and not has_tf32:
        return "fp32", "tf32 needs an Ampere or newer NVIDIA GPU"
    if requested == "bf16" and not (device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return "fp32", "bf16 needs a CUDA GPU that supports it"
    return requested, ""


def measured_precisions(requested: str, device: torch.device) -> list[str]:
    """The precisions `auto` times on this GPU before training, fastest kept: TF32 (never slower than
    FP32) against bf16 autocast, which wins or loses depending on the model's size and the GPU."""
    if requested != "auto" or device.type != "cuda" or torch.cuda.get_device_capability(device)[0] < 8:
        return []
    return ["tf32", "bf16"] if torch.cuda.is_bf16_supported() else []


def set_fp32_matmul_precision(precision: str) -> None:
    """TF32 on or off for float32 matrix products and cuDNN RNNs (process-wide torch flags)."""
    tf32 = precision == "tf32"
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):  # torch >= 2.9
        matmul.fp32_precision = "tf32" if tf32 else "ieee"
        torch.backends.cudnn.rnn.fp32_precision = "tf32" if tf32 else "ieee"  # type: ignore[attr-defined]
    else:
        matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


_GRAPHS_WITH_DROPOUT: weakref.WeakSet[TrainStep] = weakref.WeakSet()
"""Live steps whose captured graph draws dropout masks. A second such graph in one process breaks the
first: replaying it after the second's capture is an illegal memory access (measured on an H200 with
torch 2.11; graphs without dropout were fine). Sweep trials run one per process; this guards the app,
where a sweep's calibration can train beside a run."""


def graph_unavailable(device: torch.device, wanted: bool, with_dropout: bool) -> str:
    """Why the step will run eagerly, or "" when it will be captured."""
    if not wanted:
        return "CUDA graphs are turned off"
    if device.type != "cuda":
        return "CUDA graphs need a CUDA GPU"
    if with_dropout and len(_GRAPHS_WITH_DROPOUT):
        return "another CUDA graph with dropout is live in this process"
    return ""


def uses_dropout(model: CharRNN) -> bool:
    config = model.config
    return config.dropout > 0 and (config.layers > 1 or config.output_dropout)


class TrainStep:
    """Forward, loss, backward and clipping on fixed buffers; then the optimizer step.

    `run` copies a batch into the buffers and replays the graph, or runs eagerly on the batch itself, then
    steps the optimizer. The carried hidden state is `state`: with a graph, fixed buffers the new state is
    copied into after backward; eagerly, the detached new state itself. Either is zeroed in place where a
    batch starts fresh.
    """

    def __init__(self, model: CharRNN, optimizer: torch.optim.Optimizer, example: tuple[torch.Tensor, torch.Tensor],
                 targets_last: bool, carry_state: bool, clip_norm: float, precision: str, use_graph: bool):
        self.model = model
        self.optimizer = optimizer
        self.params = list(model.parameters())
        self.targets_last = targets_last
        self.carry_state = carry_state
        self.clip_norm = clip_norm
        self.device = example[0].device
        self.precision, self.precision_note = resolve_precision(precision, self.device)
        self.inputs = torch.zeros_like(example[0])
        self.targets = torch.zeros_like(example[1])
        self.state: State = model.initial_state(example[0].shape[0], self.device)
        self.loss = torch.zeros((), device=self.device)
        self.grad_norm: torch.Tensor | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.with_dropout = uses_dropout(model)
        self.eager_reason = graph_unavailable(self.device, use_graph, self.with_dropout)
        self.candidates = [] if self.eager_reason else measured_precisions(precision, self.device)

    @property
    def description(self) -> str:
        return "CUDA graph" if self.graph is not None else f"eager ({self.eager_reason})"

    def set_state(self, state: State | None) -> None:
        values = state_tensors(state) if state is not None else []
        for buffer, value in zip(state_tensors(self.state), values, strict=False):  # none: the zeros below
            buffer.copy_(value)
        if state is None:
            self.reset_state()

    def reset_state(self) -> None:
        for buffer in state_tensors(self.state):
            buffer.zero_()

    def prepare(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Set the precision, and capture the step where possible (timing each candidate precision first
        where `auto` asked for that), on the batch the run starts with; the weights, the carried state and
        the random number generators are left as they were."""
        if self.device.type == "cuda":
            self._use_precision(self.precision)
        if self.eager_reason:
            return
        self.inputs.copy_(inputs)
        self.targets.copy_(targets)
        saved_state = [t.clone() for t in state_tensors(self.state)]
        saved_rng = torch.cuda.get_rng_state(self.device)
        try:
            if self.candidates:
                timings = {}
                for candidate in self.candidates:
                    self._use_precision(candidate)
                    timings[candidate] = self._milliseconds_per_replay(self._capture())
                self._use_precision(min(timings, key=timings.__getitem__))
                self.precision_note = "measured " + ", ".join(f"{p} {ms:.2f} ms" for p, ms in timings.items())
            self.graph = self._capture()  # the graph kept is the last captured: its buffers are the gradients
            if self.with_dropout:
                _GRAPHS_WITH_DROPOUT.add(self)
        except RuntimeError as exc:  # an operation that cannot be captured: train eagerly instead
            self.graph = None
            self.eager_reason = f"capture failed: {str(exc).splitlines()[0][:120]}"
            torch.cuda.synchronize(self.device)
        finally:
            for buffer, value in zip(state_tensors(self.state), saved_state, strict=False):
                buffer.copy_(value)
            torch.cuda.set_rng_state(saved_rng, self.device)
            if self.graph is None:
                self.optimizer.zero_grad(set_to_none=True)

    def _use_precision(self, precision: str) -> None:
        self.precision = precision
        set_fp32_matmul_precision(precision)

    def _milliseconds_per_replay(self, graph: torch.cuda.CUDAGraph) -> float:
        graph.replay()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(TIMED_REPLAYS):
            graph.replay()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) / TIMED_REPLAYS

    def _capture(self) -> torch.cuda.CUDAGraph:
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_ITERATIONS):
                self._forward_backward(self.inputs, self.targets, fixed=True)
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.optimizer.zero_grad(set_to_none=True)  # the graph allocates the gradients in its own pool
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):  # other threads may use the GPU
            self._forward_backward(self.inputs, self.targets, fixed=True)
        return graph

    def run(self, inputs: torch.Tensor, targets: torch.Tensor,
            fresh_state: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One optimizer step on this batch; returns the loss and the gradient norm (device tensors)."""
        if fresh_state:
            self.reset_state()
        if self.graph is not None:
            self.inputs.copy_(inputs)
            self.targets.copy_(targets)
            self.graph.replay()
        else:
            self.optimizer.zero_grad(set_to_none=True)
            self._forward_backward(inputs, targets, fixed=False)
        self.optimizer.step()
        return self.loss, self.grad_norm

    def _forward_backward(self, inputs: torch.Tensor, targets: torch.Tensor, fixed: bool) -> None:
        """`fixed`: the graph's way, the new state copied into the state buffers; otherwise the detached
        new state simply becomes the state (no copies, as in a plain loop)."""
        with self._autocast():
            logits, new_state = self.model(inputs, self.state, last_only=self.targets_last)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
        loss.backward()
        if self.clip_norm > 0:
            self.grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.clip_norm)
        self.loss.copy_(loss.detach())
        # kept until the next step, as a plain loop keeps them: freeing them at once measured about 1.5%
        # slower on the CPU (the allocator then returns and refetches that memory every step)
        self._last_outputs = (logits, loss)
        if not self.carry_state:
            return
        if fixed:
            with torch.no_grad():
                for buffer, value in zip(state_tensors(self.state), state_tensors(new_state), strict=False):
                    buffer.copy_(value)
        else:
            self.state = detach_state(new_state)

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.precision != "bf16":
            yield
            return
        with torch.autocast(self.device.type, dtype=torch.bfloat16, cache_enabled=False):
            yield
