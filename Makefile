# Kino's everyday commands. `make demo` runs the main job; `make test` passes the tests.

PLUGINS := kino-script-arc kino-director-styles kino-translator-phrasebook kino-grader-palette kino-fallback-backoff
# Same place tests/build.rs builds them, so the two share one build.
PLUGIN_TARGET := $(or $(CARGO_TARGET_DIR),target)/wasm-plugins
PLUGIN_DIR := $(PLUGIN_TARGET)/wasm32-wasip2/plugin

.PHONY: setup plugins demo test bench lint

setup:
	rustup target add wasm32-wasip2

plugins: setup
	CARGO_TARGET_DIR=$(PLUGIN_TARGET) cargo build --target wasm32-wasip2 --profile plugin $(PLUGINS:%=-p %)

demo: plugins
	cargo run --release -p kino-host -- plan examples/brief.toml --plugins $(PLUGIN_DIR) --out out

test: setup
	cargo test --workspace

bench: setup
	cargo bench -p kino-tests --bench runtime

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
