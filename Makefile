# c2w build contract.
#   make build   install what is missing, build the guest inits, the VMs and target/release/c2w
#   make demo    build, convert a small busybox image for riscv64, run it under wasmtime
#   make test    build, then formatting, lints, unit tests, kernel checks, end-to-end tests and
#                the acceptance suite

CARGO ?= cargo
WASMTIME ?= wasmtime
C2W := target/release/c2w

# riscv64 is always built. amd64 (x86_64) joins once the x86_64 emulator has its VM binary.
HAVE_X86 := $(wildcard emu-x86/src/bin/c2w-vm-x86_64.rs)
ARCHES := riscv64 $(if $(HAVE_X86),amd64)

.PHONY: build setup guest-riscv64 guest-amd64 c2w demo test

build: setup guest-riscv64 $(if $(HAVE_X86),guest-amd64) c2w

setup:
	scripts/setup.sh

# Per arch: the guest init (a static Linux binary) and the VM (wasm32-wasip1). c2w embeds both,
# so they are built before it.
guest-riscv64: setup
	$(CARGO) build -p c2w-init --target riscv64gc-unknown-linux-gnu --profile vm
	$(CARGO) build -p emu-riscv --bin c2w-vm-riscv64 --target wasm32-wasip1 --profile vm

guest-amd64: setup
	$(CARGO) build -p c2w-init --target x86_64-unknown-linux-musl --profile vm
	$(CARGO) build -p emu-x86 --bin c2w-vm-x86_64 --target wasm32-wasip1 --profile vm

c2w: setup $(if $(HAVE_X86),guest-amd64) guest-riscv64
	$(CARGO) build --release -p packer

demo: build
	$(C2W) --target-arch riscv64 oci:$$(scripts/demo-image.sh) target/demo/busybox-riscv64.wasm
	$(WASMTIME) target/demo/busybox-riscv64.wasm uname -a

# End-to-end benchmark (wasmtime vs native VM vs QEMU TCG); BENCH_RUNS=1 for a quick run.
# Writes target/bench/e2e.json. Criterion benches of the hot loops: cargo bench -p benches.
# Fuzzing (fuzz/, not a workspace member): each target for FUZZ_SECONDS. With cargo-fuzz and a
# nightly toolchain, libFuzzer drives them (-len_control=0: long inputs from the start, which
# the CPU targets need to run more than a few bytes of code); otherwise the stable fixed-seed
# loops of fuzz/tests/fixed_seed.rs run for that long. Crashes are saved under fuzz/artifacts/
# (libFuzzer) or as /tmp/c2w-fuzz-TARGET-crash.bin (stable loops); minimized inputs go in
# fuzz/regressions/TARGET/, which every `make test` replays.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := layers oci_json virtqueue p9 riscv_hart x86_cpu
.PHONY: fuzz
fuzz:
	if cargo +nightly fuzz --version > /dev/null 2>&1; then \
	  for t in $(FUZZ_TARGETS); do \
	    (cd fuzz && cargo +nightly fuzz run --features libfuzzer $$t -- -max_total_time=$(FUZZ_SECONDS) -timeout=10 -len_control=0) || exit 1; \
	  done; \
	else \
	  FUZZ_SECONDS=$(FUZZ_SECONDS) CARGO_TARGET_DIR=$(CURDIR)/target/fuzz-stable \
	    $(CARGO) test --release --manifest-path fuzz/Cargo.toml -- --test-threads=1 --nocapture; \
	fi

.PHONY: bench
bench: build
	scripts/bench.sh

test: build
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace
	# Every fuzz target for a short fixed time (seeded loops on stable; `make fuzz` runs longer).
	FUZZ_SECONDS=10 CARGO_TARGET_DIR=$(CURDIR)/target $(CARGO) test --release --manifest-path fuzz/Cargo.toml
	if [ -x guest/kernel/check.sh ]; then guest/kernel/check.sh; fi
	for t in tests/*.sh; do if [ -f "$$t" ]; then bash "$$t" || exit 1; fi; done
	# Real userlands and guest faults, converted with c2w and run under wasmtime.
	# debian.sh and node.sh take the arch: once for each arch this tree builds a VM for.
	for t in tests/e2e/*.sh; do case $$t in */native-bundle.sh) ;; \
	  */debian.sh | */node.sh) for a in $(ARCHES); do bash "$$t" $$a || exit 1; done ;; \
	  *) bash "$$t" || exit 1 ;; esac; done
	# The guest init on the committed kernels under QEMU, independent of c2w's emulators.
	python3 tests/qemu/init_smoke.py --arch riscv64
	python3 tests/qemu/init_smoke.py --arch x86_64
	ARCHES="$(ARCHES)" C2W=$(C2W) WASMTIME=$(WASMTIME) ../shared/acceptance/run.sh
