#!/usr/bin/env bash
# Every GPU figure in one run: the benchmarks a session with a lent GPU runs (step counts sized to finish
# within about 8 minutes on an H100/H200), each writing its JSON to a file in the output directory.
#
#     bash bench/gpu_suite.sh [OUTDIR]        # OUTDIR defaults to $OUT, else bench-out
#
# For each benchmark NAME: OUTDIR/NAME.json (its stdout, the JSON object) and OUTDIR/NAME.log (stderr).
# A failing benchmark does not stop the others: its exit code goes to OUTDIR/status.tsv (name, exit code,
# seconds; 124 or 137 = killed at its time limit, "skipped" = the suite's time budget was spent). At the end one
# summary line per benchmark (its ratio fields) is printed and written to OUTDIR/summary.txt. The exit
# status is 0 if every benchmark succeeded, 1 otherwise.
#
# Environment: PYTHON (default python); CORPUS (the Nietzsche text, absolute or from the repository root;
# default: the first of ../shared/corpora/nietzsche.txt and shared/corpora/nietzsche.txt that exists);
# SUITE_BUDGET_S (default 480: no benchmark is started after this many seconds).
set -euo pipefail

out_arg="${1:-${OUT:-bench-out}}"
mkdir -p "$out_arg"
out_dir="$(cd "$out_arg" && pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root

PYTHON="${PYTHON:-python}"
BUDGET_S="${SUITE_BUDGET_S:-480}"
corpus_args=()
for candidate in "${CORPUS:-}" ../shared/corpora/nietzsche.txt shared/corpora/nietzsche.txt; do
    if [[ -n "$candidate" && -f "$candidate" ]]; then
        corpus_args=(--corpus "$candidate")
        break
    fi
done

status_file="$out_dir/status.tsv"
printf 'name\texit_code\tseconds\n' > "$status_file"
names=()
failed=0
suite_started=$SECONDS

# bench NAME LIMIT_S SCRIPT ARGS...: run one benchmark, stdout to NAME.json, stderr to NAME.log.
bench() {
    local name="$1" limit="$2"
    shift 2
    names+=("$name")
    if (( SECONDS - suite_started >= BUDGET_S )); then
        printf '%s\tskipped\t0\n' "$name" >> "$status_file"
        echo "== $name: skipped (the suite's ${BUDGET_S} s budget is spent)" >&2
        failed=1
        return 0
    fi
    echo "== $name: $*" >&2
    local began=$SECONDS rc=0
    timeout --kill-after=10 "$limit" "$PYTHON" "$@" > "$out_dir/$name.json" 2> "$out_dir/$name.log" || rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - began))" >> "$status_file"
    echo "== $name: exit $rc after $((SECONDS - began)) s" >&2
    if (( rc != 0 )); then
        failed=1
    fi
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "corpus: ${corpus_args[1]:-none found, the scripts use their default}"
    "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
"available", torch.cuda.is_available(),
torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 || true
    command -v nvidia-smi > /dev/null && nvidia-smi 2>&1 || echo "no nvidia-smi"
} > "$out_dir/env.txt"
if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null; then
    echo "warning: torch sees no CUDA GPU; the GPU benchmarks will run on the CPU or fail" >&2
fi
if (( ${#corpus_args[@]} == 0 )); then
    echo "warning: nietzsche.txt not found (set CORPUS); train/generate/lockstep will fail, the sweep uses 'default'" >&2
fi

# Training: the study's loop vs the Trainer (run mode on a GPU: 2 rounds, ABBA). At about 8 ms per
# baseline step and hidden 512, 420 steps x 2 rounds is ~7 s of baseline per run.
train=(bench/train_throughput.py --device cuda ${corpus_args[@]+"${corpus_args[@]}"})
bench train_h512 150 "${train[@]}" --hidden 512 --steps 400 --warmup 20
bench train_h512_eager 150 "${train[@]}" --hidden 512 --steps 400 --warmup 20 --no-cuda-graph
bench train_h512_fp32 150 "${train[@]}" --hidden 512 --steps 400 --warmup 20 --precision fp32
bench train_h512_tf32 150 "${train[@]}" --hidden 512 --steps 400 --warmup 20 --precision tf32
bench train_h512_bf16 150 "${train[@]}" --hidden 512 --steps 400 --warmup 20 --precision bf16
bench train_h1024 150 "${train[@]}" --hidden 1024 --steps 200 --warmup 20

# Generation: the study's window re-run vs the streaming Generator, on the GPU and on its host's CPU.
bench generate_gpu 120 bench/generate_throughput.py --device cuda --seconds 1 --rounds 2 ${corpus_args[@]+"${corpus_args[@]}"}
bench generate_cpu 120 bench/generate_throughput.py --device cpu --seconds 1 --rounds 2 ${corpus_args[@]+"${corpus_args[@]}"}

# The sweep engine with K trials at once vs the same trials in sequence, and the whole study extrapolated.
bench sweep_gpu 300 bench/sweep_throughput.py --device cuda --steps 300 --workers 1,2,4,8,auto ${corpus_args[@]+"${corpus_args[@]}"}

# The same K models in one process, stepped in lockstep (each its own CUDA graph and stream): read with
# sweep_gpu (same hidden 512 and steps). 310 rounds of 1+2+4+8 model steps (4,650) and 15 graph captures.
bench lockstep_h512 120 bench/lockstep_throughput.py --device cuda --hidden 512 --group 1,2,4,8 --steps 300 --warmup 10 ${corpus_args[@]+"${corpus_args[@]}"}

if command -v tmux > /dev/null; then
    bench first_frame 90 bench/first_frame.py --repeats 3
else
    echo "== first_frame: skipped (no tmux)" >&2
fi

echo "suite: $((SECONDS - suite_started)) s in all; files in $out_dir" >&2
"$PYTHON" - "$out_dir" "${names[@]}" << 'EOF' | tee "$out_dir/summary.txt"
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
codes = {}
for line in (out / "status.tsv").read_text().splitlines()[1:]:
    name, code, seconds = line.split("\t")
    codes[name] = (code, seconds)
KEYS = ("ratio", "ratio_median_step", "ratio_greedy", "ratio_sampled", "ratio_greedy_median", "meets_target",
        "ratios", "best", "auto_k", "study_minutes_extrapolated", "gpu_peak_bytes_per_trial_max",
        "ours_chars_per_s", "baseline_chars_per_s", "ours_peak_memory_bytes", "baseline_peak_memory_bytes",
        "ours_device", "tuirnn_median_s", "baseline_median_s")
for name in sys.argv[2:]:
    code, seconds = codes.get(name, ("?", "?"))
    try:
        data = json.loads((out / f"{name}.json").read_text())
        fields = {key: data[key] for key in KEYS if key in data}
        shown = json.dumps(fields, separators=(",", ":"))
    except (OSError, ValueError) as exc:
        shown = f"no JSON ({type(exc).__name__}); see {name}.log"
    print(f"{name} [exit {code}, {seconds} s] {shown}")
EOF
exit "$failed"
