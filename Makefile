# vsefab developer and CI entry points. Needs Go 1.26 (`go` on PATH or /usr/local/go/bin/go);
# everything else comes from Debian packages (`make deps`) or the Go module proxy.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Never let a go.mod line make go fetch and run another toolchain.
export GOTOOLCHAIN := local

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFMT ?= $(dir $(GO))gofmt
BAZEL ?= bazel

# Pinned Go tools (third_party/gotools/*/go.mod) are built here; git ignores it.
TOOLS_BIN := $(CURDIR)/.cache/bin
BUILDIFIER := $(TOOLS_BIN)/buildifier
# protoc-gen-go at the protobuf version go.mod pins, so generated code matches the runtime.
PROTOBUF_VERSION = $(shell $(GO) list -mod=mod -m -f '{{.Version}}' google.golang.org/protobuf)
PROTOC_GEN_GO := $(TOOLS_BIN)/protoc-gen-go
PROTOS := agent.proto bundle.proto config.proto manifest.proto escrow.proto audit.proto

DEB_PACKAGES := bazel-bootstrap bazel-skylib bazel-platforms bazel-rules-java gcc softhsm2 opensc protobuf-compiler nginx-light time
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Our Go and Starlark sources: not vendor/, tool caches, Bazel's symlinks or testdata.
FIND_OURS := find . \( -path ./vendor -o -path ./.cache -o -path ./.git -o -name 'bazel-*' \) -prune -o -type f

.PHONY: help deps check-go firmware test lint update-deps tools proto proto-check bench bench-scale

help:
	@echo "make deps         install missing Debian packages (bazel, softhsm2, ...)"
	@echo "make firmware     build //customers/acme:firmware"
	@echo "make test         gofmt check, go vet, go test -race, bazel test //..."
	@echo "make lint         buildifier check over our Starlark files"
	@echo "make update-deps  go mod tidy + vendor + regenerate vendor/ BUILD files"
	@echo "make proto        regenerate proto/vsefabpb from proto/*.proto"
	@echo "make bench        run the HSM, start-up and memory benchmarks (see bench/README.md)"
	@echo "make bench-scale  build fleets of 1 to 200 customers and report the figures (over an hour)"

# Installs only what is missing: a dpkg-query per package, apt-get only when needed.
deps: check-go
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		if ! dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed'; then \
			missing="$$missing $$p"; \
		fi; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

check-go:
	@if ! [ -x "$(GO)" ] && ! command -v "$(GO)" >/dev/null 2>&1; then \
		echo "Go 1.26 is required: put it on PATH or at /usr/local/go (no Debian package is new enough)" >&2; \
		exit 1; \
	fi

firmware: deps
	$(BAZEL) build //customers/acme:firmware

test: deps lint
	@echo "== gofmt"
	@bad=$$($(FIND_OURS) -name '*.go' -print | xargs -r $(GOFMT) -l); \
	if [ -n "$$bad" ]; then echo "gofmt needed on:"; echo "$$bad"; exit 1; fi
	@echo "== generated protobuf code is current"
	@$(MAKE) --no-print-directory proto-check
	@echo "== go vet"
	$(GO) vet ./...
	@echo "== go test -race"
	$(GO) test -race -timeout 60m ./...
	@echo "== bazel test"
	$(BAZEL) test //...

lint: $(BUILDIFIER)
	$(FIND_OURS) \( -name BUILD -o -name BUILD.bazel -o -name WORKSPACE -o -name '*.bzl' \) -print \
		| sort | xargs -r $(BUILDIFIER) -mode=check -lint=warn

update-deps: check-go
	tools/update-deps.sh

# Regenerates proto/vsefabpb from proto/*.proto.
proto: deps $(PROTOC_GEN_GO)
	cd proto && protoc --plugin=protoc-gen-go=$(PROTOC_GEN_GO) \
		--go_out=. --go_opt=module=github.com/vsefab/vsefab/proto $(PROTOS)

# Fails when proto/vsefabpb is not what `make proto` would write.
proto-check: $(PROTOC_GEN_GO)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd proto && protoc --plugin=protoc-gen-go=$(PROTOC_GEN_GO) \
		--go_out="$$tmp" --go_opt=module=github.com/vsefab/vsefab/proto $(PROTOS); \
	if ! diff -r -x BUILD.bazel "$$tmp/vsefabpb" vsefabpb; then \
		echo "proto/vsefabpb is stale: run make proto and commit the result" >&2; exit 1; \
	fi

$(PROTOC_GEN_GO): go.mod
	GOFLAGS=-modcacherw GOBIN=$(TOOLS_BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOBUF_VERSION)

tools: $(BUILDIFIER)

$(BUILDIFIER): third_party/gotools/buildifier/go.mod third_party/gotools/buildifier/go.sum
	cd third_party/gotools/buildifier && GOFLAGS=-modcacherw GOBIN=$(TOOLS_BIN) \
		$(GO) install github.com/bazelbuild/buildtools/buildifier

# Each benchmark and its baseline run side by side in one invocation; see bench/README.md.
bench: deps
	$(GO) test -run '^$$' -bench 'Keyset|Start|AgentMemory' -benchtime 100x -count 3 ./bench/

# Scripted Bazel builds of generated fleets; SCALE_FLAGS narrows them, for example
# SCALE_FLAGS='-scale.sizes=1,10 -scale.hsms=emulator'.
SCALE_FLAGS ?=
bench-scale: deps
	$(GO) test -run '^$$' -bench Scale -benchtime 1x -timeout 4h ./bench/ -args $(SCALE_FLAGS)
