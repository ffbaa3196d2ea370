#!/usr/bin/env bash
# Builds the binary as released (CGO_ENABLED=0) and measures runs end to end against the fake LLM: accepted →
# first LLM request (30 runs one at a time, then under load), runs/s and peak memory with 100 and 500 runs at
# once, on the process executor and on bwrap when it works here. Bounded by TIMEOUT (default 15m). Not part
# of `make test`. Knobs: EXECUTORS, ONE_AT_A_TIME, SIZES, HOLD, TIMEOUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/appstrate ./cmd/appstrate
exec go run ./bench/runs -bin ./bin/appstrate -executors "${EXECUTORS:-process,bwrap}" \
	-one-at-a-time "${ONE_AT_A_TIME:-30}" -sizes "${SIZES:-100,500}" -hold "${HOLD:-3s}" -timeout "${TIMEOUT:-15m}"
