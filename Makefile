# bpflow — see README.md.
GO ?= go
CLANG ?= clang-14

.PHONY: build test generate check-generate golden-generate golden-record

build:
	CGO_ENABLED=0 $(GO) build -o bin/bpflow ./cmd/bpflow

# The README's test command: every test, oracles included where installed.
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
