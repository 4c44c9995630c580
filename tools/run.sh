#!/usr/bin/env bash
# Sets up, builds and runs kvlab's main job on a fresh Debian machine: the
# all-in-one cluster (`kvlab run`) evaluating the embedded model on the
# synthetic Retr.KV and passkey tasks in both shared-context modes.
#   bash tools/run.sh                 # default job
#   bash tools/run.sh --sessions 8    # extra arguments go to `kvlab run`
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
BUILD_DIR=${KVLAB_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" --parallel "$(nproc)" --target kvlab
"$BUILD_DIR/tools/kvlab" run "$@"
