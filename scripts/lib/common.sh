# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/lib/lint.sh and scripts/lib/fuzz.sh.
# Source it; it defines functions and a few variables, and runs nothing else.

# REPO_ROOT: the repository root, found from this file's own location so the
# scripts work from any working directory.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
export REPO_ROOT

# shellcheck disable=SC2034 # used by the scripts that source this file
# Colour only for a human at a terminal: never in CI, never when NO_COLOR is set.
if [[ "${CI:-}" != "true" && -z "${NO_COLOR:-}" && -t 1 ]]; then
	USE_COLOR=1
	C_BOLD=$'\033[1m' C_RED=$'\033[31m' C_GREEN=$'\033[32m' C_YELLOW=$'\033[33m' C_RESET=$'\033[0m'
else
	USE_COLOR=0
	C_BOLD='' C_RED='' C_GREEN='' C_YELLOW='' C_RESET=''
fi
export USE_COLOR

# header TEXT: announce a step on one line.
header() { printf '%s==> %s%s\n' "$C_BOLD" "$*" "$C_RESET"; }
info() { printf '    %s\n' "$*"; }
warn() { printf '%sWARNING: %s%s\n' "$C_YELLOW" "$*" "$C_RESET" >&2; }
err() { printf '%sERROR: %s%s\n' "$C_RED" "$*" "$C_RESET" >&2; }
die() {
	err "$*"
	exit 1
}

# go_env_setup: environment every Go step of these scripts uses.
go_env_setup() {
	if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
		export PATH="/usr/local/go/bin:$PATH"
	fi
	command -v go >/dev/null 2>&1 || die "go is not on PATH (expected Go at /usr/local/go/bin)"
	# A fresh clone (or a tree without .git) must not trip over VCS stamping.
	case " ${GOFLAGS:-} " in
	*" -buildvcs="*) ;;
	*) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false" ;;
	esac
	# Never let a stray go.work from a parent directory change what is built.
	export GOWORK=off
}
