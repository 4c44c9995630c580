#!/usr/bin/env bash
# tools/gpu/bundle.sh: builds kvlab here with CUDA for sm_90a and packs the GPU
# test and benchmark binaries into one folder that can be carried to a GPU host
# (which has nvcc, cuBLAS, CMake and ninja but none of our Debian libraries and
# no package registry) and checked there with tools/gpu/check.sh.
#
#   bash tools/gpu/bundle.sh               # the targets in TARGETS below
#   bash tools/gpu/bundle.sh kvlab engine_bench shipped_model_test   # others
#
# Output: build-gpu/bundle/ (under 60 MiB, else this script fails):
#   bin/              stripped executables (targets named *_test are run by
#                     check.sh as GoogleTest binaries)
#   payload.tar.xz    lib/         every shared library the binaries need except
#                                  glibc's and CUDA's (those come from the host)
#                     lib/compat/  libstdc++ and libgcc_s of this machine, used
#                                  by check.sh only when the host's are too old
#                     src/         models/kvlab-tiny-v1, models/fixtures,
#                                  tests/unit/data, jobs (KVLAB_SOURCE_DIR)
#   check.sh          a copy of tools/gpu/check.sh
#   MANIFEST.txt      revision, targets, libraries, sizes, glibc needed
#
# A target that the build does not define is skipped with an ERROR line; the
# bundle is still written, and the script then exits 3. Any other problem
# (build failure, unresolved library, bundle over 60 MiB) exits 1.
#
# The machine this runs on has 2 cores shared with other builds: everything
# runs under `nice -n 19` with one build job (KVLAB_GPU_JOBS overrides).
# Environment: KVLAB_GPU_BUILD_DIR (default build-gpu), KVLAB_GPU_BUNDLE
# (default $KVLAB_GPU_BUILD_DIR/bundle), KVLAB_GPU_JOBS (default 1),
# KVLAB_GPU_MAX_MIB (default 60).
set -euo pipefail

# The binaries to bundle (CMake target names).
TARGETS=(
  cuda_backend_test   # GoogleTest, tests/gpu, label gpu
  cuda_model_test     # GoogleTest, tests/gpu, label gpu
  cuda_services_test  # GoogleTest, tests/gpu, label gpu
  engine_bench        # bench/engine_bench --backend=cuda --shape=llama3-8b
  kvlab               # tools/kvlab, `kvlab run --backend=cpu|cuda`
)
# Data the binaries read through KVLAB_SOURCE_DIR (paths in the repository).
DATA=(models/kvlab-tiny-v1 models/fixtures tests/unit/data jobs)

cd "$(dirname "$0")/../.."
BUILD_DIR=${KVLAB_GPU_BUILD_DIR:-build-gpu}
BUNDLE=${KVLAB_GPU_BUNDLE:-$BUILD_DIR/bundle}
JOBS=${KVLAB_GPU_JOBS:-1}
MAX_MIB=${KVLAB_GPU_MAX_MIB:-60}
TREE_LIMIT_MIB=64   # what the device tool carries: working tree + carried paths
if (($#)); then TARGETS=("$@"); fi

say() { echo "bundle.sh: $*"; }
die() { echo "bundle.sh: ERROR: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
NICE=(nice -n 19)

# Libraries never bundled: glibc's (the host's must be used with its own
# ld.so) and CUDA's (driver, runtime, cuBLAS...: the host's match its driver).
GLIBC_RE='^(linux-vdso|linux-gate|ld-linux[-a-z0-9_]*|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libnsl|libBrokenLocale|libthread_db|libcrypt|libnss_[a-z]+|libc_malloc_debug|libmemusage|libpcprofile|libSegFault)\.so'
CUDA_RE='^(libcuda|libcudart|libcublas|libcublasLt|libnvrtc|libnvrtc-builtins|libnvJitLink|libnvToolsExt|libnvtx3interop|libcufft|libcufftw|libcurand|libcusparse|libcusolver|libcusolverMg|libcupti|libnccl|libcudnn[_a-z]*|libnvidia-[-a-z]+|libnvperf_[a-z]+|libnvblas|libcufile)\.so'
# Shipped in lib/compat/, used only when the host's copy is older.
COMPAT_RE='^(libstdc\+\+|libgcc_s)\.so'

command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || die "nvcc not found (CUDA toolkit needed)"
export PATH=$PATH:/usr/local/cuda/bin

# --- configure ---------------------------------------------------------------
say "configuring $BUILD_DIR (CUDA sm_90a, no -march=native)"
mkdir -p "$BUILD_DIR"
"${NICE[@]}" cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKVLAB_NATIVE=OFF \
  -DKVLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a -DKVLAB_WERROR=ON >"$BUILD_DIR/gpu-configure.log" 2>&1 ||
  { tail -n 30 "$BUILD_DIR/gpu-configure.log" >&2; die "cmake configure failed (log: $BUILD_DIR/gpu-configure.log)"; }

# --- which targets exist -------------------------------------------------------
known_targets=$(ninja -C "$BUILD_DIR" -t targets all | sed -n 's/^\([^:]*\): phony$/\1/p')
build=() missing=()
for t in "${TARGETS[@]}"; do
  if grep -qxF -- "$t" <<<"$known_targets"; then build+=("$t"); else missing+=("$t"); fi
done
for t in "${missing[@]}"; do
  echo "bundle.sh: ERROR: target '$t' is not defined in $BUILD_DIR: skipped" >&2
done
((${#build[@]})) || die "none of the targets exists: ${TARGETS[*]}"

# --- build ---------------------------------------------------------------------
say "building ${build[*]} (-j$JOBS, nice 19)"
"${NICE[@]}" cmake --build "$BUILD_DIR" --parallel "$JOBS" --target "${build[@]}" ||
  die "build failed"

# The executable a phony target stands for: `ninja -t query` lists its input.
target_file() {
  ninja -C "$BUILD_DIR" -t query "$1" | awk '/^  input: phony/ { getline; sub(/^ +/, ""); print; exit }'
}

# --- stage ----------------------------------------------------------------------
rm -rf "$BUNDLE" "$BUNDLE.stage"
mkdir -p "$BUNDLE/bin" "$BUNDLE.stage/lib/compat" "$BUNDLE.stage/src"
STAGE=$BUNDLE.stage
declare -A libs=()   # soname -> path on this machine
for t in "${build[@]}"; do
  rel=$(target_file "$t")
  exe=$BUILD_DIR/$rel
  [ -n "$rel" ] && [ -x "$exe" ] && [ -f "$exe" ] || die "target '$t': no executable found (ninja says '$rel')"
  cp "$exe" "$BUNDLE/bin/$t"
  "${NICE[@]}" strip --strip-unneeded "$BUNDLE/bin/$t"
  # ldd lists every library the binary loads, directly or not.
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    [ "$path" != "not" ] || die "$t: $name not found on this machine (ldd)"
    [[ $name =~ $GLIBC_RE || $name =~ $CUDA_RE ]] && continue
    libs[$name]=$path
  done < <(ldd "$exe")
done
for name in "${!libs[@]}"; do
  dest=$STAGE/lib
  [[ $name =~ $COMPAT_RE ]] && dest=$STAGE/lib/compat
  cp -L "${libs[$name]}" "$dest/$name"
  chmod u+w "$dest/$name"
  "${NICE[@]}" strip --strip-unneeded "$dest/$name" 2>/dev/null || true
done
for d in "${DATA[@]}"; do
  [ -e "$d" ] || die "data '$d' missing"
  mkdir -p "$STAGE/src/$(dirname "$d")"
  cp -r "$d" "$STAGE/src/$d"
done

# --- pack -----------------------------------------------------------------------
# OpenBLAS (36 MB) and ICU's data (31 MB) alone exceed the limit; xz takes them
# to about a fifth. check.sh unpacks into a scratch folder on the host.
say "packing $(find "$STAGE/lib" -type f | wc -l) libraries and the data ($(mib "$(du -sb "$STAGE" | cut -f1)") before xz)"
tar -C "$STAGE" --owner=0 --group=0 -cf - lib src | "${NICE[@]}" xz -9 -T1 >"$BUNDLE/payload.tar.xz"
cp tools/gpu/check.sh "$BUNDLE/check.sh"

# glibc / libstdc++ symbol versions the bundle needs from the host.
max_version() {  # PREFIX FILE...
  local p=$1; shift
  for f in "$@"; do objdump -T "$f" 2>/dev/null; done | grep -o "${p}_[0-9][0-9.]*" | sort -uV | tail -n 1
}
bins=("$BUNDLE"/bin/*)
need_glibc=$(max_version GLIBC "${bins[@]}" "$STAGE"/lib/*.so*)
need_glibcxx=$(max_version GLIBCXX "${bins[@]}" "$STAGE"/lib/*.so*)
{
  echo "kvlab GPU bundle"
  echo "revision: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$( [ -n "$(git status --porcelain 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME"), $(nvcc --version | grep -o 'release [0-9.]*')"
  echo "cmake: -DCMAKE_BUILD_TYPE=Release -DKVLAB_NATIVE=OFF -DKVLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a -DKVLAB_WERROR=ON"
  echo "targets: ${build[*]}"
  if ((${#missing[@]})); then echo "missing targets: ${missing[*]}"; fi
  echo "needs from the host: glibc ${need_glibc#GLIBC_}, CUDA 13 driver + libcublas.so.13; libstdc++ ${need_glibcxx:-none} (else lib/compat)"
  echo "libraries (payload lib/):"
  (cd "$STAGE/lib" && find . -type f -printf '  %P %s\n' | sort)
  echo "binaries (bin/):"
  (cd "$BUNDLE/bin" && find . -type f -printf '  %P %s\n' | sort)
} >"$BUNDLE/MANIFEST.txt"
rm -rf "$STAGE"

# --- size checks -------------------------------------------------------------------
size=$(du -sb "$BUNDLE" | cut -f1)
# What else travels with it: the working tree's tracked and untracked-not-ignored files.
tree=$(git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
echo "bundle.sh: $BUNDLE: $(mib "$size") (bin $(mib "$(du -sb "$BUNDLE/bin" | cut -f1)"), payload $(mib "$(stat -c %s "$BUNDLE/payload.tar.xz")")); working tree $(mib "$tree")"
sed -n 's/^needs from the host: /bundle.sh: needs from the host: /p' "$BUNDLE/MANIFEST.txt"
if ((size > MAX_MIB * 1048576)); then
  die "bundle is $(mib "$size"), over the ${MAX_MIB} MiB limit"
fi
if ((size + tree > TREE_LIMIT_MIB * 1048576)); then
  die "bundle + working tree = $(mib $((size + tree))), over the device tool's ${TREE_LIMIT_MIB} MiB"
fi
if ((${#missing[@]})); then
  echo "bundle.sh: ERROR: bundle written without: ${missing[*]}" >&2
  exit 3
fi
say "OK"
