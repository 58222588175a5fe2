# heed: `make run` and `make test` install what is missing first (scripts/deps.sh).
SHELL := bash
export PATH := /usr/local/go/bin:$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: deps deps-load deps-test build run test bench

deps:
	@scripts/deps.sh

deps-load: # also wrk, for load tests
	@scripts/deps.sh wrk

deps-test: # also chromium, for the page tests
	@scripts/deps.sh chromium

build:
	go build -ldflags '$(LDFLAGS)' -o bin/heed ./cmd/heed

run: deps
	@$(MAKE) --no-print-directory build
	./bin/heed serve $(ARGS)

test: export REQUIRE_REDIS := 1
test: export REQUIRE_CHROMIUM := 1
test: export CGO_ENABLED := 1
test: deps-test
	go vet ./...
	go test -race -count=1 ./...

bench: deps
	go test -run '^$$' -bench . -benchmem ./...
