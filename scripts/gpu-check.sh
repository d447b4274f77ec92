#!/usr/bin/env bash
# The one device check (issue #13): every CUDA parity test and GPU benchmark
# on a machine with an NVIDIA GPU, and one table of what they found.
#
# The GPU machine this is meant for starts bare and has no network: no
# crates to build with, no FFmpeg dev packages. So the check is built here
# and carried there:
#
#   scripts/gpu-check.sh pack   # here: builds the `cuda` test and bench
#                               # binaries (release), strips them, and packs
#                               # them with NVRTC into .kino/gpu-check
#   scripts/gpu-check.sh run    # there (carry .kino/gpu-check): runs them
#
# With the device tool: run(command="bash scripts/gpu-check.sh run",
# carry=[".kino/gpu-check"]). `run` needs only the NVIDIA driver (libcuda);
# it brings its own NVRTC (12.8, from `make nvrtc`) and falls back to the
# machine's CUDA toolkit if that one cannot load. Where there is no GPU, it
# still runs everything and says why each GPU half was skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=.kino/gpu-check

pack() {
    make nvrtc libtorch
    rm -rf "$PACK" && mkdir -p "$PACK/bin" "$PACK/torch"
    # The test binaries and the bench, as cargo names them.
    {
        LD_LIBRARY_PATH=.kino/nvrtc/lib cargo test -p kino-cuda --features cuda --release --no-run --message-format=json
        cargo bench -p kino-cuda --features cuda --bench gpu --no-run --message-format=json
    } | artifacts "$PACK/bin"
    # The TorchScript tests, linked against libtorch 2.11 as the GPU
    # machine's PyTorch is: there they load its CUDA libraries.
    LIBTORCH="$PWD/.kino/libtorch" cargo test -p kino-torch --features torch --release --no-run --message-format=json \
        | artifacts "$PACK/torch"
    tar -cJf "$PACK/nvrtc.tar.xz" -C .kino/nvrtc lib
    git rev-parse HEAD > "$PACK/commit"
    du -sh "$PACK" "$PACK"/bin/* "$PACK"/torch/* "$PACK/nvrtc.tar.xz"
}

# Copies the executables cargo's JSON messages (stdin) name into $1, stripped.
artifacts() {
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] != ["custom-build"]:
        print(m["target"]["name"], m["executable"])
' | while read -r name exe; do
        cp "$exe" "$1/$name"
        strip "$1/$name"
    done
}

run() {
    [ -d "$PACK/bin" ] || { echo "no $PACK/bin: run \`scripts/gpu-check.sh pack\` first, and carry $PACK"; exit 2; }
    local started=$SECONDS tmp
    tmp=$(mktemp -d)
    tar -xJf "$PACK/nvrtc.tar.xz" -C "$tmp"
    # Ours first; then a CUDA toolkit's, should ours not load; and the
    # driver's folder, where an image mounts it apart (libcuda).
    local libs="$tmp/lib"
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && libs="$libs:$d"
    done
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "commit $(cat "$PACK/commit" 2>/dev/null || echo '?'); LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.free --format=csv 2>&1 || echo "nvidia-smi: not here"
    # (head closes the pipe early: ldd may die of SIGPIPE, which is no failure)
    ldd --version | head -1 || true

    local log="$tmp/log" status=0
    for test in "$PACK"/bin/*; do
        [ "$(basename "$test")" = gpu ] && continue
        echo "== $(basename "$test")"
        "$test" --nocapture --test-threads=1 2>&1 | tee -a "$log" || status=1
    done
    # TorchScript on the GPU: this machine's PyTorch's libraries (libtorch
    # 2.11 with CUDA), and only the tests that need no model runtime else.
    local torch_lib
    torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || true)
    if [ -n "$torch_lib" ] && [ -d "$PACK/torch" ]; then
        echo "== torch (libraries from $torch_lib)"
        for filter in "diffusion the_torchscript_export_draws_the_same_on_a_gpu" "vocoder the_torchscript_vocoder_runs_the_same_on_a_gpu" "kino_torch device"; do
            set -- $filter
            KINO_REPO=$PWD LD_LIBRARY_PATH="$torch_lib:$LD_LIBRARY_PATH" "$PACK/torch/$1" "$2" --nocapture 2>&1 | tee -a "$log" || status=1
        done
    else
        echo "torch: no PyTorch here, TorchScript on the GPU not checked" | tee -a "$log"
    fi
    echo "== bench"
    "$PACK/bin/gpu" --bench 2>&1 | tee -a "$log" || status=1
    encoders "$log"

    echo
    echo "==== GPU check: $((SECONDS - started)) s"
    # The bench's table, then what the tests printed of their comparisons.
    grep -E "^(kernel |lut |rgb→yuv|lut\+yuv|camera|overlay|text |interpolate |nvenc|x264)" "$log" || true
    grep -E "^(compute_|GPU half|warp:|flow |text:|diffusion on|vocoder on|torch:|test result)" "$log" | sort | uniq -c || true
    [ $status = 0 ] && echo "all passed" || echo "FAILURES above"
    return $status
}

# NVENC against x264 veryfast on the same 10 s of 1080p testsrc2, where this
# machine has the ffmpeg CLI (the bare GPU machine may not).
encoders() {
    command -v ffmpeg >/dev/null || { echo "nvenc: no ffmpeg CLI here" | tee -a "$1"; return 0; }
    local input=(-hide_banner -loglevel error -f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 300)
    local name encoder start ms
    for name in "x264:libx264 -preset veryfast" "nvenc h264:h264_nvenc -preset p4" "nvenc hevc:hevc_nvenc -preset p4"; do
        encoder=${name#*:}
        start=$(date +%s%N)
        # shellcheck disable=SC2086 # the encoder and its options, split
        if ffmpeg "${input[@]}" -c:v $encoder -f null - 2>"$1.err"; then
            ms=$((($(date +%s%N) - start) / 1000000))
            echo "${name%%:*}: 300 frames of 1080p in $ms ms ($((300000 / (ms > 0 ? ms : 1))) fps)" | tee -a "$1"
        else
            echo "${name%%:*}: failed: $(head -c 300 "$1.err")" | tee -a "$1"
        fi
    done
}

case "${1:-}" in
    pack) pack ;;
    run) run ;;
    *) echo "usage: scripts/gpu-check.sh pack|run"; exit 2 ;;
esac
