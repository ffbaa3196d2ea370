#!/usr/bin/env bash
# Run every Fuzz* target of the tree for FUZZTIME each (default 10s).
# Used by `make fuzz`. Knobs: FUZZTIME, FUZZ_PACKAGES (default ./...).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"
go_env_setup

FUZZTIME="${FUZZTIME:-10s}"
read -r -a pkgs <<<"${FUZZ_PACKAGES:-./...}"

header "listing fuzz targets (go test -list 'Fuzz.*')"
# go test -list prints the matching names of a package, then its "ok  pkg"
# line: pair each name with the package that follows it.
list="$(go test -list '^Fuzz' "${pkgs[@]}")" || {
	printf '%s\n' "$list" >&2
	die "go test -list failed"
}
mapfile -t targets < <(awk '
	/^Fuzz[A-Za-z0-9_]*$/ { names[n++] = $1; next }
	/^ok / { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
' <<<"$list")

if ((${#targets[@]} == 0)); then
	info "no Fuzz* functions found"
	exit 0
fi
info "${#targets[@]} fuzz target(s), $FUZZTIME each"

# fuzz_once runs one target. The Go fuzzing engine sometimes reports its own
# -fuzztime deadline as a failure ("context deadline exceeded", no failing input
# written) when the machine is loaded; that is retried, a real crasher is not.
fuzz_once() {
	local pkg="$1" name="$2" out rc
	out="$(mktemp)"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" </dev/null 2>&1 | tee "$out"
	rc="${PIPESTATUS[0]}"
	if ((rc != 0)) && grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
		rc=75 # engine timeout, not a finding
	fi
	rm -f "$out"
	return "$rc"
}

failed=()
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	header "fuzz $pkg $name ($FUZZTIME)"
	rc=0
	for attempt in 1 2 3; do
		rc=0
		fuzz_once "$pkg" "$name" || rc=$?
		((rc == 75)) || break
		info "fuzz engine hit its own deadline without a finding; retrying ($attempt/3)"
	done
	if ((rc != 0)); then
		failed+=("$pkg.$name")
	fi
done

if ((${#failed[@]})); then
	err "fuzz targets failed (crashers are saved under testdata/fuzz/): ${failed[*]}"
	exit 1
fi
info "all ${#targets[@]} fuzz target(s) passed"
