# shellcheck shell=bash
# Static checks: gofmt, go vet, staticcheck.
#
# Sourced by scripts/test (which calls run_lint), or run directly
# (`bash scripts/lib/lint.sh`, which is what `make lint` does).

# Pinned staticcheck, declared in go.mod with a `tool` directive
# (go get -tool honnef.co/go/tools/cmd/staticcheck@v0.8.2).
STATICCHECK_PKG="honnef.co/go/tools/cmd/staticcheck"
STATICCHECK_VERSION="v0.8.2"

# go_files: every .go file of the tree, skipping what the go tool skips
# (hidden and _ directories, testdata) and local build/cache output.
go_files() {
	find . \
		\( -path ./bin -o -path ./data -o -path ./vendor -o -name node_modules \
		-o -name testdata -o -name '.?*' -o -name '_*' \) -prune \
		-o -type f -name '*.go' -print | sort
}

lint_gofmt() {
	local gofmt files unformatted
	gofmt="$(go env GOROOT)/bin/gofmt"
	[[ -x "$gofmt" ]] || gofmt=gofmt
	mapfile -t files < <(go_files)
	((${#files[@]})) || return 0
	unformatted="$("$gofmt" -l "${files[@]}")" || return 1
	if [[ -n "$unformatted" ]]; then
		err "these files are not gofmt-ed (run: gofmt -w <file>):"
		# shellcheck disable=SC2001
		sed 's/^/    /' <<<"$unformatted" >&2
		return 1
	fi
}

lint_vet() {
	go vet ./...
}

lint_staticcheck() {
	if go tool -n staticcheck >/dev/null 2>&1; then
		go tool staticcheck ./...
	else
		# go.mod lost the tool directive: still run the pinned version,
		# without editing go.mod behind the developer's back.
		warn "go.mod has no 'tool $STATICCHECK_PKG' directive; running $STATICCHECK_VERSION via go run"
		go run "$STATICCHECK_PKG@$STATICCHECK_VERSION" ./...
	fi
}

# run_lint: run every check, announce each, and set LINT_FAILED to the names
# of the checks that failed (space separated). Returns 1 if any failed.
run_lint() {
	LINT_FAILED=""
	header "gofmt -l (formatting)"
	lint_gofmt || LINT_FAILED+=" gofmt"
	header "go vet ./..."
	lint_vet || LINT_FAILED+=" vet"
	header "staticcheck ./... ($STATICCHECK_VERSION)"
	lint_staticcheck || LINT_FAILED+=" staticcheck"
	LINT_FAILED="${LINT_FAILED# }"
	if [[ -n "$LINT_FAILED" ]]; then
		err "lint failed: $LINT_FAILED"
		return 1
	fi
	info "lint: ok"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	# shellcheck source=scripts/lib/common.sh
	source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
	cd "$REPO_ROOT"
	go_env_setup
	run_lint
fi
