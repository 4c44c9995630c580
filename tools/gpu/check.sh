#!/usr/bin/env bash
# tools/gpu/check.sh: runs kvlab's GPU check on a GPU host from a bundle made by
# tools/gpu/bundle.sh, within a hard time budget, and prints one summary.
#
#   bash tools/gpu/check.sh [BUNDLE]          # BUNDLE defaults to build-gpu/bundle
#   bash build-gpu/bundle/check.sh            # the copy inside a bundle: that bundle
#   bash tools/gpu/check.sh --compare CPU.csv CUDA.csv [TOL_POINTS]   # step 3's test alone
#
# Steps (each under `timeout`; the whole run under KVLAB_GPU_BUDGET_S, 450 s):
#   gpu    nvidia-smi -L, the GPU's name, driver and CUDA driver version
#   libs   unpacks the bundle's payload into a scratch folder, sets
#          LD_LIBRARY_PATH (bundle libs, then the host's CUDA folders) and checks
#          with ldd that every binary resolves; lib/compat (libstdc++, libgcc_s)
#          is added only when the host's libstdc++ is too old
#   test   every bin/*_test of the bundle with --gtest_brief=1, one line each;
#          a binary whose tests all skipped (no device visible to it) FAILs
#   e2e    `kvlab run --backend=cpu` and `--backend=cuda` on the same small job on
#          models/kvlab-tiny-v1; PASS when every (task, method, mode) row of the
#          two summary.csv files is present in both and their `avg` scores differ
#          by at most KVLAB_GPU_E2E_TOL points (2; a score of 1.0 is 100 points)
#   bench  engine_bench --backend=cuda --shape=llama3-8b --contexts=8192,32768
# Without a GPU (no nvidia-smi, or it lists none) every step after `libs` is
# SKIPped with one line saying so.
#
# Exit status: 0 every step passed, 1 a step failed, 2 none failed but some
# were skipped (no GPU, or a binary missing from the bundle).
# Logs (at most 8 files, as the device tool brings back): ${OUT:-/tmp}/gpu-check/
#   summary.txt info.log tests.log e2e.log e2e-cpu.csv e2e-cuda.csv bench.log
#
# KVLAB_SOURCE_DIR (models/, tests/unit/data for the tests) is, unless already
# set, the repository this script sits in when it holds models/kvlab-tiny-v1
# (the device tool copies the working tree), else the bundle's own src/.
# Other settings: KVLAB_GPU_E2E_ARGS (the job's flags, see E2E_ARGS below),
# KVLAB_GPU_E2E_CPU_FLAGS / KVLAB_GPU_E2E_CUDA_FLAGS (default --backend=cpu /
# --backend=cuda), KVLAB_GPU_BENCH_ARGS, KVLAB_GPU_FORCE=1 (run the GPU steps
# even when no GPU is seen).
set -euo pipefail

# ---------------------------------------------------------------------------------
# Step 3's comparison: rows of two summary.csv files (task,"method",mode,turn1..,
# avg,entry_bytes,compression_ratio,ttft_ms; only the method is quoted) joined on
# task|method|mode; prints one line per row, then a verdict line
#   "rows N max_diff_points D worst ROW missing M"
# and exits 0 when every row is in both files and D <= TOL.
compare_summaries() {
  local a=$1 b=$2 tol=${3:-2}
  [ -s "$a" ] || { echo "compare: $a missing or empty"; return 1; }
  [ -s "$b" ] || { echo "compare: $b missing or empty"; return 1; }
  awk -F'"' -v tol="$tol" '
    function parse(line, file,   pre, post, n, f, key, head) {
      # pre = "task,", $2 = method, post = ",mode,turn1,...,avg,bytes,ratio,ttft"
      pre = $1; post = $3
      sub(/,$/, "", pre); sub(/^,/, "", post)
      n = split(post, f, ",")
      key = pre "|" $2 "|" f[1]
      score[file, key] = f[n - 3]; keys[key] = 1
    }
    FNR == 1 { fileno++; next }  # header
    NF < 3 { next }
    { parse($0, fileno) }
    END {
      rows = 0; maxd = -1; worst = "-"; missing = 0
      printf "%-8s %-9s %-9s %7s  %s\n", "cpu", "cuda", "diff_pts", "", "task|method|mode"
      for (k in keys) {
        s1 = "absent"; s2 = "absent"
        if ((1, k) in score) s1 = score[1, k]
        if ((2, k) in score) s2 = score[2, k]
        if (s1 == "absent" || s2 == "absent") {
          missing++
          printf "%-8s %-9s %-9s %7s  %s\n", s1, s2, "-", "MISSING", k
          continue
        }
        rows++
        d = (score[1, k] - score[2, k]) * 100; if (d < 0) d = -d
        if (d > maxd) { maxd = d; if (d > 0) worst = k }
        flag = "ok"; if (d > tol + 1e-9) flag = "OVER"
        printf("%-8s %-9s %-9.2f %7s  %s\n", score[1, k], score[2, k], d, flag, k)
      }
      if (maxd < 0) maxd = 0
      printf "rows %d max_diff_points %.2f worst %s missing %d\n", rows, maxd, worst, missing
      if (rows > 0 && missing == 0 && maxd <= tol + 1e-9) exit 0
      exit 1
    }' "$a" "$b"
}

if [ "${1:-}" = "--compare" ]; then
  shift
  compare_summaries "$@"
  exit
fi

# ---------------------------------------------------------------------------------
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${1:-}" ]; then
  BUNDLE=$1
elif [ -f "$SCRIPT_DIR/payload.tar.xz" ]; then
  BUNDLE=$SCRIPT_DIR              # run as BUNDLE/check.sh
else
  BUNDLE=$SCRIPT_DIR/../../build-gpu/bundle
fi
BUNDLE=$(cd "$BUNDLE" 2>/dev/null && pwd) || { echo "check.sh: no bundle at ${1:-build-gpu/bundle} (run tools/gpu/bundle.sh)"; exit 1; }

BUDGET_S=${KVLAB_GPU_BUDGET_S:-450}     # the whole check; 7.5 of the 8 minutes
TEST_CAP_S=${KVLAB_GPU_TEST_CAP_S:-150}  # each GoogleTest binary
E2E_CPU_CAP_S=${KVLAB_GPU_E2E_CPU_CAP_S:-120}
E2E_CUDA_CAP_S=${KVLAB_GPU_E2E_CUDA_CAP_S:-90}
BENCH_CAP_S=${KVLAB_GPU_BENCH_CAP_S:-180}
E2E_TOL=${KVLAB_GPU_E2E_TOL:-2}
# The e2e job: both backends get exactly these flags plus their --backend. 40
# sessions x 5 turns per (task, method, mode): one changed answer moves a score
# by 0.5 points, so the 2-point tolerance allows a few near-ties to flip.
# shellcheck disable=SC2054  # the commas are the flags' own
E2E_ARGS=(--tasks=kv,passkey --sessions=40 --turns=5 --context_tokens=1024
  "--methods=prefill=dense;kv=full|prefill=a_shape{n_init=64,n_local=256};kv=snapkv{capacity=256}")
if [ -n "${KVLAB_GPU_E2E_ARGS:-}" ]; then read -r -a E2E_ARGS <<<"$KVLAB_GPU_E2E_ARGS"; fi
read -r -a E2E_CPU_FLAGS <<<"${KVLAB_GPU_E2E_CPU_FLAGS---backend=cpu}"
read -r -a E2E_CUDA_FLAGS <<<"${KVLAB_GPU_E2E_CUDA_FLAGS---backend=cuda}"
read -r -a BENCH_ARGS <<<"${KVLAB_GPU_BENCH_ARGS:---backend=cuda --shape=llama3-8b --contexts=8192,32768}"

LOG=${OUT:-/tmp}/gpu-check
mkdir -p "$LOG"
rm -f "$LOG"/{summary.txt,info.log,tests.log,e2e.log,e2e-cpu.csv,e2e-cuda.csv,bench.log}
touch "$LOG"/{tests.log,e2e.log,bench.log}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvlab-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'echo "check.sh: internal error at line $LINENO (exit $?)" >&2' ERR
START=$SECONDS

SUMMARY=()        # one line per step
BENCH_ROWS=""     # the bench's table rows, shown under its line
n_fail=0 n_skip=0
record() {  # STEP STATUS TEXT
  SUMMARY+=("$(printf '%-26s %-4s  %s' "$1" "$2" "$3")")
  case $2 in FAIL) n_fail=$((n_fail + 1)) ;; SKIP) n_skip=$((n_skip + 1)) ;; esac
  echo "check.sh: $1: $2 $3"
}
# Seconds a step may take: its cap, or what is left of the budget (less 10 s
# for the summary) when that is smaller; 0 when nothing is left.
step_limit() {
  local left=$((BUDGET_S - (SECONDS - START) - 10))
  ((left < 0)) && left=0
  echo $(($1 < left ? $1 : left))
}
# run_timed DIR LIMIT LOGFILE CMD...: runs CMD in DIR, appending the command
# line and its output to LOGFILE; sets RC (124/137 = timed out) and TOOK (s).
run_timed() {
  local dir=$1 limit=$2 log=$3; shift 3
  local t0=$SECONDS
  mkdir -p "$dir"
  echo "### $(date -u +%H:%M:%S) in $dir (limit ${limit}s): $*" >>"$log"
  RC=0
  (cd "$dir" && exec timeout -k 10 "$limit" "$@") >>"$log" 2>&1 || RC=$?
  TOOK=$((SECONDS - t0))
  echo "### exit $RC after ${TOOK}s" >>"$log"
}
rc_text() {  # why a command failed
  case $RC in 124 | 137) echo "timed out after ${TOOK}s" ;; *) echo "exit $RC after ${TOOK}s" ;; esac
}

# --- 1. gpu ------------------------------------------------------------------------
{
  echo "bundle: $BUNDLE"
  head -n 6 "$BUNDLE/MANIFEST.txt" 2>/dev/null || echo "no MANIFEST.txt"
  echo "host: $(uname -srm); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"); $(nproc) cpus; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "glibc: $(ldd --version 2>/dev/null | head -n 1)"
  echo "nvcc: $(command -v nvcc || echo none) $(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || true)"
} >"$LOG/info.log" 2>&1
HAVE_GPU=0
if ! command -v nvidia-smi >/dev/null; then
  record gpu SKIP "no NVIDIA GPU here: nvidia-smi not found"
else
  RC=0
  timeout 30 nvidia-smi -L >>"$LOG/info.log" 2>&1 || RC=$?
  timeout 30 nvidia-smi >>"$LOG/info.log" 2>&1 || true
  gpus=$(grep -c '^GPU [0-9]' "$LOG/info.log" || true)
  if ((RC != 0 || gpus == 0)); then
    record gpu FAIL "nvidia-smi -L: exit $RC, $gpus GPUs"
  else
    HAVE_GPU=1
    q=$(timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1 || true)
    cuda=$(grep -o 'CUDA Version: *[0-9.]*' "$LOG/info.log" | head -n 1 | grep -o '[0-9.]*$' || true)
    record gpu PASS "$gpus x ${q:-?}; CUDA driver ${cuda:-?}"
  fi
fi
if [ "${KVLAB_GPU_FORCE:-0}" = 1 ] && ((!HAVE_GPU)); then
  echo "check.sh: KVLAB_GPU_FORCE=1: running the GPU steps without a GPU" | tee -a "$LOG/info.log"
  HAVE_GPU=1
fi

# --- libs: unpack, LD_LIBRARY_PATH, ldd -----------------------------------------------
unpack() {
  local f=$BUNDLE/payload.tar.xz
  if command -v xz >/dev/null; then tar -C "$WORK" -xJf "$f"
  elif command -v cmake >/dev/null; then (cd "$WORK" && cmake -E tar xf "$f")
  elif command -v python3 >/dev/null; then python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$f" "$WORK"
  else echo "no xz, cmake or python3 to unpack $f"; return 1
  fi
}
LIB_OK=0
if [ ! -f "$BUNDLE/payload.tar.xz" ] || [ ! -d "$BUNDLE/bin" ]; then
  record libs FAIL "$BUNDLE has no payload.tar.xz or bin/ (run tools/gpu/bundle.sh)"
elif ! unpack >>"$LOG/info.log" 2>&1; then
  record libs FAIL "cannot unpack payload.tar.xz (see info.log)"
else
  cuda_dirs=""
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
           /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    if [ -d "$d" ]; then cuda_dirs=$cuda_dirs:$d; fi
  done
  export LD_LIBRARY_PATH=$WORK/lib$cuda_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  ldd_all() { for b in "$BUNDLE"/bin/*; do echo "== $b"; ldd "$b" 2>&1 || true; done; }
  # CUDA's libraries elsewhere (e.g. only in Python's nvidia-* wheels): look
  # for each one ldd cannot find, and add its folder.
  if command -v ldd >/dev/null; then
    for so in $(ldd_all | sed -n 's/^[[:space:]]*\(lib\(cuda\|cudart\|cublas\|cublasLt\|nvrtc\|nvJitLink\)\.so[.0-9]*\) => not found.*/\1/p' | sort -u); do
      f=$(find /usr/local /opt /usr/lib -name "$so" 2>/dev/null | head -n 1 || true)
      if [ -n "$f" ]; then
        echo "found $so at $f" >>"$LOG/info.log"
        LD_LIBRARY_PATH=$LD_LIBRARY_PATH:${f%/*}
      fi
    done
  fi
  compat=host
  if command -v ldd >/dev/null && ldd_all >"$WORK/ldd.txt" &&
     grep -Eq "version .(GLIBCXX|CXXABI|GCC)_[0-9.]*' not found|(libstdc\+\+\.so\.6|libgcc_s\.so\.1) => not found" "$WORK/ldd.txt"; then
    export LD_LIBRARY_PATH=$WORK/lib:$WORK/lib/compat${LD_LIBRARY_PATH#"$WORK/lib"}
    compat="bundled (host's too old)"
  fi
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$LOG/info.log"
  if ! command -v ldd >/dev/null; then
    LIB_OK=1
    record libs PASS "unpacked; ldd missing, not checked; libstdc++: host"
  else
    ldd_all >"$WORK/ldd.txt"
    cat "$WORK/ldd.txt" >>"$LOG/info.log"
    bad=$(grep 'not found' "$WORK/ldd.txt" | sed 's/^[[:space:]]*//' | sort -u | head -n 3 | tr '\n' ';' || true)
    if [ -n "$bad" ]; then
      record libs FAIL "unresolved: $bad (see info.log)"
    else
      LIB_OK=1
      nlibs=$(find "$WORK/lib" -maxdepth 1 -name '*.so*' | wc -l)
      record libs PASS "$nlibs libs unpacked, every binary resolves; libstdc++: $compat"
    fi
  fi
fi
if [ -z "${KVLAB_SOURCE_DIR:-}" ]; then
  if [ -f "$SCRIPT_DIR/../../models/kvlab-tiny-v1/config.json" ]; then
    KVLAB_SOURCE_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
  else
    KVLAB_SOURCE_DIR=$WORK/src
  fi
fi
export KVLAB_SOURCE_DIR KVLAB_TEST_CACHE=$WORK/test-cache
echo "KVLAB_SOURCE_DIR=$KVLAB_SOURCE_DIR" >>"$LOG/info.log"

# Why a GPU step cannot run, or "" when it can.
blocked() {
  if ((!HAVE_GPU)); then echo "no GPU"
  elif ((!LIB_OK)); then echo "bundle libraries not usable"
  fi
}

# --- 2. GoogleTest binaries ------------------------------------------------------------
tests=()
for b in "$BUNDLE"/bin/*_test; do [ -x "$b" ] && tests+=("$b"); done
if ((${#tests[@]} == 0)); then
  record test SKIP "no *_test binary in $BUNDLE/bin"
fi
for b in "${tests[@]}"; do
  name=$(basename "$b")
  why=$(blocked)
  if [ -n "$why" ]; then record "test $name" SKIP "$why"; continue; fi
  limit=$(step_limit "$TEST_CAP_S")
  if ((limit < 5)); then record "test $name" FAIL "not run: time budget spent"; continue; fi
  before=$(wc -l <"$LOG/tests.log")
  run_timed "$WORK/run-$name" "$limit" "$LOG/tests.log" "$b" --gtest_brief=1 --gtest_color=no
  out=$(tail -n +"$((before + 1))" "$LOG/tests.log")
  passed=$(grep -o '^\[  PASSED  \] [0-9]*' <<<"$out" | grep -o '[0-9]*$' || echo 0)
  # Under --gtest_brief=1 the "[  FAILED  ] N tests" / "[  SKIPPED ] N tests"
  # totals may be missing: then count the per-test lines.
  failed=$(grep -oE '^\[  FAILED  \] [0-9]+ tests?[,.]' <<<"$out" | grep -oE '[0-9]+' | head -n 1 || true)
  [ -n "$failed" ] || failed=$(grep -E '^\[  FAILED  \] [^0-9 ].* \([0-9]+ ms\)$' <<<"$out" | sort -u | wc -l || true)
  skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ tests?[,.]' <<<"$out" | grep -oE '[0-9]+' | head -n 1 || true)
  [ -n "$skipped" ] || skipped=$(grep -E '^\[  SKIPPED \] [^0-9 ].* \([0-9]+ ms\)$' <<<"$out" | sort -u | wc -l || true)
  figs="${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped, ${TOOK}s"
  if ((RC == 0 && ${passed:-0} == 0)); then
    # On a GPU host a binary whose every test skipped checked nothing.
    record "test $name" FAIL "$figs; no test passed (skipped: see tests.log)"
  elif ((RC == 0)); then
    record "test $name" PASS "$figs"
  else
    first=$(grep -m1 '^\[  FAILED  \] [A-Za-z]' <<<"$out" | sed 's/^\[  FAILED  \] //' || true)
    record "test $name" FAIL "$figs; $(rc_text)${first:+; first: $first}"
  fi
done

# --- 3. e2e: kvlab run on both backends ------------------------------------------------------
KVLAB=$BUNDLE/bin/kvlab
MODEL=$KVLAB_SOURCE_DIR/models/kvlab-tiny-v1
why=$(blocked)
if [ ! -x "$KVLAB" ]; then
  record e2e SKIP "no kvlab in the bundle"
elif [ -n "$why" ]; then
  record e2e SKIP "$why"
else
  e2e_fail=""
  declare -A took=()
  for backend in cpu cuda; do
    if [ "$backend" = cpu ]; then flags=("${E2E_CPU_FLAGS[@]}"); cap=$E2E_CPU_CAP_S; else flags=("${E2E_CUDA_FLAGS[@]}"); cap=$E2E_CUDA_CAP_S; fi
    limit=$(step_limit "$cap")
    if ((limit < 5)); then e2e_fail="$backend run not started: time budget spent"; break; fi
    run_timed "$WORK" "$limit" "$LOG/e2e.log" "$KVLAB" run "${flags[@]}" --model="$MODEL" \
      --output_dir="$WORK/e2e-$backend" "${E2E_ARGS[@]}"
    took[$backend]=$TOOK
    cp "$WORK/e2e-$backend/summary.csv" "$LOG/e2e-$backend.csv" 2>/dev/null || true
    if ((RC != 0)); then
      e2e_fail="kvlab run ${flags[*]}: $(rc_text): $(grep -v '^###' "$LOG/e2e.log" | grep -v '^\s*$' | tail -n 1 | awk -F'\r' '{ print $NF }' | cut -c1-120 || true)"
      break
    fi
  done
  if [ -n "$e2e_fail" ]; then
    record e2e FAIL "$e2e_fail"
  else
    echo "### compare (tolerance $E2E_TOL points)" >>"$LOG/e2e.log"
    RC=0
    compare_summaries "$LOG/e2e-cpu.csv" "$LOG/e2e-cuda.csv" "$E2E_TOL" >"$WORK/compare.txt" 2>&1 || RC=$?
    cat "$WORK/compare.txt" >>"$LOG/e2e.log"
    verdict=$(tail -n 1 "$WORK/compare.txt")
    read -r _ rows _ maxd _ worst _ missing <<<"$verdict" || true
    figs="${rows:-0} rows, max |diff| ${maxd:-?} pts (tol $E2E_TOL), ${missing:-?} missing; cpu ${took[cpu]}s, cuda ${took[cuda]}s"
    if ((RC == 0)); then record e2e PASS "$figs"; else record e2e FAIL "$figs; worst: ${worst:-$verdict}"; fi
  fi
fi

# --- 4. bench --------------------------------------------------------------------------------
BENCH=$BUNDLE/bin/engine_bench
why=$(blocked)
if [ ! -x "$BENCH" ]; then
  record bench SKIP "no engine_bench in the bundle"
elif [ -n "$why" ]; then
  record bench SKIP "$why"
else
  limit=$(step_limit "$BENCH_CAP_S")
  if ((limit < 5)); then
    record bench FAIL "not run: time budget spent"
  else
    run_timed "$WORK/bench" "$limit" "$LOG/bench.log" "$BENCH" "${BENCH_ARGS[@]}"
    # The figures: the table's header and its rows (lines that start with a number).
    BENCH_ROWS=$(grep -v '^###' "$LOG/bench.log" | grep -E -B1 -m8 '^[0-9]' | grep -v '^--$' | head -n 9 || true)
    if ((RC == 0)); then
      record bench PASS "${BENCH_ARGS[*]}, ${TOOK}s"
    else
      record bench FAIL "$(rc_text): $(grep -v '^###' "$LOG/bench.log" | tail -n 1 | cut -c1-120)"
    fi
  fi
fi

# --- summary ------------------------------------------------------------------------------
# Keep each log under the device tool's 16 MiB a file.
for f in "$LOG"/*.log; do
  if [ -f "$f" ] && (($(stat -c %s "$f") > 15000000)); then
    tail -c 15000000 "$f" >"$f.tmp" && mv "$f.tmp" "$f"
  fi
done
if ((n_fail)); then result=FAIL; status=1; elif ((n_skip)); then result="INCOMPLETE (skipped steps)"; status=2; else result=PASS; status=0; fi
{
  echo "===== kvlab GPU check: $(sed -n 's/^revision: //p' "$BUNDLE/MANIFEST.txt" 2>/dev/null | head -n 1), $((SECONDS - START))s of ${BUDGET_S}s ====="
  printf '%s\n' "${SUMMARY[@]}"
  if [ -n "$BENCH_ROWS" ]; then sed 's/^/    /' <<<"$BENCH_ROWS"; fi
  echo "RESULT: $result (logs: $LOG)"
} | tee "$LOG/summary.txt"
exit $status
