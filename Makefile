# Developer entry points. `make test` is what CI runs (through .ci/run).

MODULE   := github.com/appstrate/appstrate-go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)
FUZZTIME ?= 10s

export GOFLAGS ?= -buildvcs=false

.PHONY: all build test lint fuzz bench run clean

all: build

## build: static binary bin/appstrate, stamped with version and commit
build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/appstrate ./cmd/appstrate

## test: install deps, start Postgres+Redis, lint, go test -race (= CI)
test:
	./scripts/test

## lint: gofmt, go vet, staticcheck only
lint:
	bash ./scripts/lib/lint.sh

## fuzz: every Fuzz* target in the tree for FUZZTIME each (default 10s)
fuzz:
	FUZZTIME=$(FUZZTIME) bash ./scripts/lib/fuzz.sh

## bench: all benchmarks, no tests
bench:
	go test -run '^$$' -bench . -benchmem ./...

## run: the server, from source
run:
	go run ./cmd/appstrate serve

## clean: remove build output
clean:
	rm -rf bin
	rm -f appstrate
