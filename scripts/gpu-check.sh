#!/usr/bin/env bash
# The one device check (issue #13): every CUDA parity test and GPU benchmark
# on a machine with an NVIDIA GPU, and one table of what they found.
#
# The GPU machine this is meant for starts bare and has no network: no
# crates to build with, no FFmpeg dev packages. So the check is built here
# and carried there:
#
#   scripts/gpu-check.sh pack   # here: builds the `cuda` test and bench
#                               # binaries (release) and the CUDA `kino` with
#                               # what the example ad needs, strips them, and
#                               # packs them (xz) with NVRTC and FFmpeg into
#                               # .kino/gpu-check (about 58 MB; the first
#                               # pack builds `kino --features cuda` and
#                               # FFmpeg, ~20 min here)
#   scripts/gpu-check.sh run    # there (carry .kino/gpu-check): runs them
#
# With the device tool: run(command="bash scripts/gpu-check.sh run",
# carry=[".kino/gpu-check"]). `run` needs only the NVIDIA driver (libcuda);
# it brings its own NVRTC (12.8, from `make nvrtc`) and falls back to the
# machine's CUDA toolkit if that one cannot load, and its own FFmpeg for
# the NVENC/NVDEC checks (see `ffmpeg_nv`). Where there is no GPU, it
# still runs everything and says why each GPU half was skipped. Each step
# has a time limit (a hang costs that step, not the call), and the whole
# log is written to $OUT/gpu-check.log where the device tool gives $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=.kino/gpu-check

pack() {
    make nvrtc libtorch
    # Built into a staging folder, then packed with xz: the device tool
    # carries 64 MiB, and stripped binaries shrink to about a third.
    local stage="$PACK/stage"
    rm -rf "$PACK" && mkdir -p "$stage/bin" "$stage/torch" "$stage/media"
    # The test binaries and the bench, as cargo names them.
    {
        LD_LIBRARY_PATH=.kino/nvrtc/lib cargo test -p kino-cuda --features cuda --release --no-run --message-format=json
        cargo bench -p kino-cuda --features cuda --bench gpu --no-run --message-format=json
    } | artifacts "$stage/bin"
    # The TorchScript tests, linked against libtorch 2.11 as the GPU
    # machine's PyTorch is: there they load its CUDA libraries.
    {
        LIBTORCH="$PWD/.kino/libtorch" cargo test -p kino-torch --features torch --release --no-run --message-format=json
        LIBTORCH="$PWD/.kino/libtorch" cargo bench -p kino-torch --features torch --bench whisper_runtimes --no-run --message-format=json
    } | artifacts "$stage/torch"
    tar -cJf "$PACK/nvrtc.tar.xz" -C .kino/nvrtc lib
    # NVENC and NVDEC through kino-media, with the FFmpeg it will load there
    # (and NVDEC's frames made RGB by the CUDA kernels where they are).
    {
        cargo test -p kino-media --features cuda --release --test hardware --no-run --message-format=json
        cargo bench -p kino-media --features cuda --bench codecs --no-run --message-format=json
    } | artifacts "$stage/media"
    # An HLG clip for NVDEC's HDR check and the bench (no ffmpeg CLI there):
    # 1080p, the bench's 60 frames, under 1 MB.
    ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 60 -vf format=yuv420p10le \
        -c:v libx265 -preset ultrafast \
        -x265-params log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc \
        -color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc -y "$stage/media/hlg.mp4"
    # The ad end to end, on the CPU and on the GPU: `kino` built with CUDA,
    # the bundled plugins, the example brand's asset folder and espeak-ng
    # (the narration's voice), none of which the GPU machine has.
    mkdir -p "$stage/ad"
    cargo build --release -p kino --features cuda --message-format=json | artifacts "$stage/ad"
    make plugins examples/brightbrew/kino-assets.toml
    # (where the Makefile's `plugins` puts them: its PLUGIN_DIR)
    mkdir -p "$stage/ad/plugins"
    cp "${CARGO_TARGET_DIR:-target}"/wasm-plugins/wasm32-wasip2/plugin/*.wasm "$stage/ad/plugins/"
    cp -r examples/brightbrew "$stage/ad/brightbrew"
    # The fonts the text kernels and their tests draw with (fonts-dejavu-core).
    mkdir -p "$stage/fonts"
    cp -L /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf "$stage/fonts/"
    espeak_ng "$stage/ad/espeak"
    ffmpeg_nv
    cp -L "$(ldconfig -p | awk '/libx264.so.164 /{print $NF; exit}')" "$FFMPEG_NV/lib/"
    tar -cJf "$PACK/ffmpeg.tar.xz" -C "$FFMPEG_NV" lib bin
    du -sh "$stage"/*/*
    XZ_OPT="-T0" tar -cJf "$PACK/binaries.tar.xz" -C "$stage" bin torch media ad fonts
    rm -rf "$stage"
    git rev-parse HEAD > "$PACK/commit"
    du -sh "$PACK" "$PACK"/*.tar.xz
}

# The GPU machine has no FFmpeg. This builds this machine's libav* version
# (so the kino-media binaries built here load it) from Debian's source,
# with only what the media checks use: H.264 through libx264, NVENC and
# NVDEC, AAC, MP4; and the ffmpeg CLI, for the references the benches set
# beside ours: its CUDA filters (scale_cuda, overlay_cuda: their CUDA
# compiled to PTX by clang, so no CUDA toolkit is needed) and its own NVDEC
# decoding. About 8 MB; a few minutes, once
# per FFmpeg version and RECIPE.
FFMPEG_NV=.kino/ffmpeg-nv
FFMPEG_NV_RECIPE="cli+cuda-filters+rawvideo"
ffmpeg_nv() {
    local version upstream src pool
    version=$(dpkg-query -W -f='${source:Version}' libavcodec-dev)
    version=${version#*:}
    upstream=${version%-*}
    if [ "$(cat "$FFMPEG_NV/version" 2>/dev/null)" = "$version $FFMPEG_NV_RECIPE" ]; then
        return 0
    fi
    local need=() p
    for p in nasm libx264-dev libffmpeg-nvenc-dev curl clang; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    if [ ${#need[@]} -gt 0 ]; then
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
    fi
    src=$(mktemp -d)
    for pool in debian/pool/main debian-security/pool/updates/main; do
        curl -fsS -o "$src/ffmpeg.dsc" "http://deb.debian.org/$pool/f/ffmpeg/ffmpeg_$version.dsc" &&
            curl -fsS -o "$src/orig.tar.xz" "http://deb.debian.org/$pool/f/ffmpeg/ffmpeg_$upstream.orig.tar.xz" &&
            break
    done
    [ -s "$src/orig.tar.xz" ] || { echo "cannot download FFmpeg $version's source from deb.debian.org"; return 1; }
    # The checksum the source package lists for its upstream tarball.
    sed -n '/^Checksums-Sha256:/,/^[^ ]/p' "$src/ffmpeg.dsc" |
        awk -v f="ffmpeg_$upstream.orig.tar.xz" -v p="$src/orig.tar.xz" '$3 == f {print $1 "  " p}' |
        sha256sum -c --quiet
    tar -xJf "$src/orig.tar.xz" -C "$src"
    local prefix="$PWD/$FFMPEG_NV"
    rm -rf "$prefix"
    (
        cd "$src/ffmpeg-$upstream"
        ./configure --prefix="$prefix" --enable-shared --disable-static --disable-doc \
            --disable-ffplay --disable-ffprobe \
            --disable-autodetect --disable-everything --enable-gpl --enable-libx264 \
            --enable-ffnvcodec --enable-nvenc --enable-nvdec --enable-cuda --enable-cuda-llvm \
            --enable-hwaccel=h264_nvdec,hevc_nvdec \
            --enable-encoder=h264_nvenc,hevc_nvenc,libx264,aac,wrapped_avframe \
            --enable-decoder=h264,hevc,aac,rawvideo --enable-parser=h264,hevc,aac \
            --enable-demuxer=mov --enable-muxer=mp4,mov,null --enable-protocol=file,pipe \
            --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,extract_extradata \
            --enable-indev=lavfi --enable-filter=scale_cuda,overlay_cuda,hwupload,hwdownload,format,null,testsrc2,loop,scale &&
            make -j"$(nproc)" && make install
    ) >"$src/build.log" 2>&1 || { tail -30 "$src/build.log"; echo "building FFmpeg $version failed"; return 1; }
    rm -rf "$prefix/include" "$prefix/share" "$prefix/lib/pkgconfig" "$src"
    echo "$version $FFMPEG_NV_RECIPE" > "$FFMPEG_NV/version"
}

# espeak-ng into $1: the program (libexec), the libraries it loads beyond
# the C library's own (lib: its audio output's pull in PulseAudio, ALSA and
# more), its English voice data, and bin/espeak-ng, which runs it with
# those, leaving the caller's libraries as they are.
espeak_ng() {
    local to=$1 program lib data=/usr/lib/x86_64-linux-gnu/espeak-ng-data
    program=$(command -v espeak-ng)
    mkdir -p "$to/bin" "$to/libexec" "$to/lib" "$to/espeak-ng-data"
    cp -L "$program" "$to/libexec/"
    for lib in $(ldd "$program" | awk '$3 ~ /^\// && $1 !~ /^(libc|libm|libpthread|libdl|librt)\./ {print $3}'); do
        cp -L "$lib" "$to/lib/"
    done
    cp -r "$data"/{phontab,phonindex,phondata,intonations,en_dict,lang,voices} "$to/espeak-ng-data/"
    cat >"$to/bin/espeak-ng" <<'WRAPPER'
#!/bin/sh
# espeak-ng with the libraries and voice data carried beside it.
here=$(cd "$(dirname "$0")/.." && pwd)
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ESPEAK_DATA_PATH="$here" \
    exec "$here/libexec/espeak-ng" "$@"
WRAPPER
    chmod +x "$to/bin/espeak-ng"
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

# Runs a step for at most $1 seconds: a step that hangs on the GPU costs
# its own line in the table, not the device's whole call.
bounded() {
    local limit=$1
    shift
    timeout -k 5 "$limit" "$@" || {
        local rc=$?
        [ $rc = 124 ] && echo "TIMED OUT after ${limit} s: $*"
        return $rc
    }
}

run() {
    [ -f "$PACK/binaries.tar.xz" ] || { echo "no $PACK/binaries.tar.xz: run \`scripts/gpu-check.sh pack\` first, and carry $PACK"; exit 2; }
    local started=$SECONDS tmp b
    tmp=$(mktemp -d)
    # The test and bench binaries: bin (kino-cuda), torch, media; and ad.
    b="$tmp/pack"
    mkdir -p "$b" && tar -xJf "$PACK/binaries.tar.xz" -C "$b"
    tar -xJf "$PACK/nvrtc.tar.xz" -C "$tmp"
    mkdir -p "$tmp/ffmpeg" && tar -xJf "$PACK/ffmpeg.tar.xz" -C "$tmp/ffmpeg"
    # Ours first; then a CUDA toolkit's, should ours not load; and the
    # driver's folder, where an image mounts it apart (libcuda).
    local libs="$tmp/lib"
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && libs="$libs:$d"
    done
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # The machine has no fonts-dejavu-core: the carried fonts.
    export KINO_FONT="$b/fonts/DejaVuSans.ttf" KINO_FONT_BOLD="$b/fonts/DejaVuSans-Bold.ttf"
    echo "commit $(cat "$PACK/commit" 2>/dev/null || echo '?'); LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.free --format=csv 2>&1 || echo "nvidia-smi: not here"
    # (head closes the pipe early: ldd may die of SIGPIPE, which is no failure)
    ldd --version | head -1 || true

    # The whole log comes back with the device tool's $OUT, beside the
    # table its output ends with.
    local log="${OUT:-$tmp}/gpu-check.log" status=0
    for test in "$b"/bin/*; do
        [ "$(basename "$test")" = gpu ] && continue
        echo "== $(basename "$test")"
        bounded 100 "$test" --nocapture --test-threads=1 2>&1 | tee -a "$log" || status=1
    done
    # TorchScript on the GPU: this machine's PyTorch's libraries (libtorch
    # 2.11 with CUDA), and only the tests that need no model runtime else.
    local torch_lib
    torch_lib=$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || true)
    if [ -n "$torch_lib" ] && [ -d "$b/torch" ]; then
        echo "== torch (libraries from $torch_lib)"
        for filter in "diffusion the_torchscript_export_draws_the_same_on_a_gpu" "vocoder the_torchscript_vocoder_runs_the_same_on_a_gpu" "kino_torch device" "whisper the_torch_network_matches_candles"; do
            set -- $filter
            KINO_REPO=$PWD LD_LIBRARY_PATH="$torch_lib:$LD_LIBRARY_PATH" bounded 60 "$b/torch/$1" "$2" --nocapture 2>&1 | tee -a "$log" || status=1
        done
        # Whisper's network per runtime: candle and libtorch on the CPU, libtorch on the GPU.
        LD_LIBRARY_PATH="$torch_lib:$LD_LIBRARY_PATH" bounded 120 "$b/torch/whisper_runtimes" 2>&1 | tee -a "$log" || status=1
    else
        echo "torch: no PyTorch here, TorchScript on the GPU not checked" | tee -a "$log"
    fi
    # NVENC and NVDEC, on the FFmpeg carried in.
    echo "== hardware, codecs (FFmpeg from the pack)"
    export KINO_HLG_CLIP="$b/media/hlg.mp4"
    {
        LD_LIBRARY_PATH="$tmp/ffmpeg/lib:$LD_LIBRARY_PATH" bounded 100 "$b/media/hardware" --nocapture --test-threads=1 &&
            PATH="$tmp/ffmpeg/bin:$PATH" LD_LIBRARY_PATH="$tmp/ffmpeg/lib:$LD_LIBRARY_PATH" bounded 90 "$b/media/codecs"
    } 2>&1 | tee -a "$log" || status=1
    # (with the ffmpeg CLI carried in, for FFmpeg's CUDA filters beside ours)
    echo "== bench"
    PATH="$tmp/ffmpeg/bin:$PATH" LD_LIBRARY_PATH="$tmp/ffmpeg/lib:$LD_LIBRARY_PATH" \
        bounded 180 "$b/bin/gpu" --bench 2>&1 | tee -a "$log" || status=1
    ad "$b/ad" "$tmp" "$log" || status=1

    echo
    echo "==== GPU check: $((SECONDS - started)) s"
    # The bench's table, then what the tests printed of their comparisons.
    grep -E "^(whisper |  candle|  libtorch|\(GPU column)" "$log" || true
    grep -E "^(kernel |lut |rgb→yuv|yuv420→rgb|lut\+yuv|camera|overlay|text |karaoke |scene frame|footage frame|interpolate |FFmpeg's CUDA|ffmpeg |  not measured|nvenc|nvdec|x264|software |hdr:|hlg p010)" "$log" || true
    grep -E "^ad (end to end|cpu:|auto-first:|auto-again:)" "$log" || true
    grep -E "^(compute_|GPU half|warp:|flow |text:|captions:|node frames|footage on|graded run|decoded pictures|pictures read on|diffusion on|vocoder on|whisper on|torch:|nvenc vs|nvdec vs|tone map:|test result|TIMED OUT)" "$log" | sort | uniq -c || true
    [ $status = 0 ] && echo "all passed" || echo "FAILURES above"
    return $status
}

# The example ad (`make demo`'s job) end to end, on the CPU and then as the
# pool places it (the GPU, where there is one), each from an empty data
# directory: wall time, and the devices each stage's kernels ran on.
ad() {
    local ad=$1 tmp=$2 log=$3 run device start ms status=0
    echo "== ad end to end"
    # On the GPU twice: the second run finds NVRTC's and the driver's
    # libraries in memory, as a server's later jobs do.
    for run in cpu auto-first auto-again; do
        device=${run%%-*}
        rm -rf "$tmp/ad-$run"
        start=$(date +%s%N)
        if PATH="$ad/espeak/bin:$PATH" KINO_DEVICE=$device \
            LD_LIBRARY_PATH="$tmp/ffmpeg/lib:$LD_LIBRARY_PATH" \
            bounded 300 "$ad/kino" run ad-creative brief=examples/brief.toml \
            product=examples/assets/product.png logo=examples/assets/logo.png \
            assets="$ad/brightbrew" --plugins "$ad/plugins" \
            --data-dir "$tmp/ad-$run" --out "$tmp/ad-$run/out" >"$tmp/ad-$run.log" 2>&1; then
            ms=$((($(date +%s%N) - start) / 1000000))
            cat "$tmp/ad-$run.log" >>"$log"
            printf 'ad end to end, KINO_DEVICE=%s (%s): %d.%02d s\n' "$device" "$run" $((ms / 1000)) $((ms % 1000 / 10)) | tee -a "$log"
            # Each scene's render: its time, and where its kernels ran;
            # the join's and the soundtrack's; getting the kernels.
            grep -oE "done +(render\[[0-9]+\]|ad|soundtrack-aac) \(.*\)|cuda:[0-9]+: Kino's kernels .*" "$tmp/ad-$run.log" |
                sed -E "s/^done +//; s/^/ad $run: /" | tee -a "$log"
        else
            cat "$tmp/ad-$run.log" >>"$log"
            echo "ad end to end, KINO_DEVICE=$device ($run): FAILED (the log has why)" | tee -a "$log"
            status=1
        fi
    done
    return $status
}

case "${1:-}" in
    pack) pack ;;
    run) run ;;
    *) echo "usage: scripts/gpu-check.sh pack|run"; exit 2 ;;
esac
