# bpflow — see README.md.
GO ?= go
CLANG ?= clang-14

.PHONY: build deps test bench-offline bench-live bench-live-kernel generate check-generate golden-generate golden-record

build:
	CGO_ENABLED=0 $(GO) build -o bin/bpflow ./cmd/bpflow

# Debian packages the tests use as oracles and tools (tcpflow 1.6.1, tcpdump/libpcap,
# clang for the BPF object, xz/bzip2 for tcpflow's decompression, pdftotext and
# rsvg-convert for the picture tests). Installs only what is missing; needs root.
DEB_PKGS = tcpflow tcpdump clang llvm libbpf-dev bpftool iproute2 poppler-utils librsvg2-bin xz-utils bzip2 gzip zip time
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	$(GO) mod download

# Every test. Tests whose oracle (tcpflow, tcpdump) or privilege (root, BPF) is
# missing skip with the reason, unless BPFLOW_REQUIRE_{TCPFLOW,TCPDUMP,BPF}=1.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# bpf2go (pinned in go.mod as a tool) compiles bpf/capture.c with $(CLANG)
# against the installed libbpf/UAPI headers and strips it with the matching
# llvm-strip, so the committed object is reproducible.
generate:
	BPF2GO_CC=$(CLANG) BPF2GO_STRIP=$(subst clang,llvm-strip,$(CLANG)) $(GO) generate ./...

# Regenerate and fail when the committed generated files differ.
check-generate: generate
	git diff --exit-code -- bpf internal testdata ':!testdata/cases'

# Rewrite the golden corpus's captures from the generator (internal/golden).
golden-generate:
	$(GO) test ./internal/golden -run TestGenerate -update

# Re-record the expected outputs from Debian's tcpflow 1.6.1 (never from bpflow).
golden-record:
	$(GO) test ./internal/golden -run TestConformance -record

# tcpflow and bpflow side by side on a synthetic >= 1 GB, >= 10,000-flow capture
# (cached in /var/tmp/bpflow-bench): MB/s, CPU, peak RSS and the ratios.
bench-offline:
	scripts/bench-offline.sh $(BENCH_ARGS)

# Live capture beside tcpflow and tcpdump between two network namespaces
# (bench/ scenarios: bulk, bulk-rate, manyflows, select1pct); needs root.
bench-live:
	scripts/bench-live.sh $(BENCH_ARGS)

# In-kernel cost per packet of each copy path (BPF run-time statistics); needs root.
bench-live-kernel:
	scripts/bench-live-kernel.sh $(BENCH_ARGS)
