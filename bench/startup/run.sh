#!/usr/bin/env bash
# Builds the binary as released (CGO_ENABLED=0) and prints the median of 5 Tier 0 starts.
set -euo pipefail
cd "$(dirname "$0")/../.."
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/appstrate ./cmd/appstrate
exec go run ./bench/startup -n "${N:-5}" -bin ./bin/appstrate
