# shellcheck shell=bash
# Debian packages the tests need, and the throwaway PostgreSQL and Redis
# servers they run against. Sourced by scripts/test; needs common.sh.

# ---------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------

# The one list of Debian packages the test suite needs. Add new ones here
# (chromium, docker.io, ...); give them a probe in pkg_present when a command
# tells better than dpkg whether they are usable.
TEST_DEBIAN_PACKAGES=(
	postgresql   # server binaries under /usr/lib/postgresql/*/bin
	redis-server # redis-server and redis-cli (redis-tools)
	bubblewrap   # bwrap, the runner sandbox
	nodejs       # node, the runtime of TypeScript/JavaScript tool packages (internal/jstools)
	gcc          # cgo, needed by go test -race
	libc6-dev    # ditto
)

# pg_bin_dir: the bin dir of the highest installed PostgreSQL server version.
pg_bin_dir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" && -x "$d/pg_isready" ]] && printf '%s\n' "$d"
	done | sort -V | tail -n1
}

# pkg_present PKG: is the package (or what we need from it) already there?
pkg_present() {
	case "$1" in
	postgresql) [[ -n "$(pg_bin_dir)" ]] ;;
	redis-server) command -v redis-server >/dev/null && command -v redis-cli >/dev/null ;;
	bubblewrap) command -v bwrap >/dev/null ;;
	nodejs) command -v node >/dev/null ;;
	gcc) command -v gcc >/dev/null ;;
	chromium) command -v chromium >/dev/null ;;
	chromium-driver) command -v chromedriver >/dev/null ;;
	docker.io) command -v docker >/dev/null ;;
	*) [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]] ;;
	esac
}

# apt_get ARGS...: apt-get as root (via sudo when we are not root), never
# interactive, waiting for a dpkg/apt lock held by another apt process.
apt_get() {
	local -a pre=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null || return 1
		pre=(sudo)
		[[ "${CI:-}" == "true" || ! -t 0 ]] && pre+=(-n)
	fi
	"${pre[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a \
		apt-get -q -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 "$@" </dev/null
}

# install_packages: install whatever of TEST_DEBIAN_PACKAGES is missing.
# apt-get update runs once, and only when something must be installed.
install_packages() {
	local -a missing=()
	local p
	for p in "${TEST_DEBIAN_PACKAGES[@]}"; do
		pkg_present "$p" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		info "all present: ${TEST_DEBIAN_PACKAGES[*]}"
		return 0
	fi
	info "missing: ${missing[*]}"
	if ((EUID != 0)) && ! command -v sudo >/dev/null; then
		err "not root and no sudo: install these Debian packages first: ${missing[*]}"
		err "  apt-get install -y --no-install-recommends ${missing[*]}"
		return 1
	fi
	apt_get update || {
		err "apt-get update failed"
		return 1
	}
	apt_get install -y --no-install-recommends "${missing[@]}" || {
		err "apt-get install failed for: ${missing[*]}"
		return 1
	}
	local -a still=()
	for p in "${missing[@]}"; do
		pkg_present "$p" || still+=("$p")
	done
	if ((${#still[@]})); then
		err "still missing after apt-get install: ${still[*]}"
		return 1
	fi
}

# ---------------------------------------------------------------------------
# Free loopback ports
# ---------------------------------------------------------------------------

TAKEN_PORTS=" "

# port_busy PORT: any TCP socket (listening or not) on that port?
port_busy() {
	local hex
	hex="$(printf ':%04X ' "$1")"
	grep -qs -- "$hex" /proc/net/tcp /proc/net/tcp6
}

# free_port: print a port that nothing uses, below the ephemeral range so a
# client socket does not grab it before the server binds. The caller still
# retries if the bind fails (another process may win the race).
free_port() {
	local i port
	for ((i = 0; i < 200; i++)); do
		port=$((15000 + (RANDOM % 17000)))
		[[ "$TAKEN_PORTS" == *" $port "* ]] && continue
		port_busy "$port" && continue
		TAKEN_PORTS+="$port "
		printf '%s\n' "$port"
		return 0
	done
	err "no free loopback port found"
	return 1
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

PG_BIN="" PG_DIR="" PG_PORT="" PG_STARTED="" PG_CONN_BASELINE=0

# as_pg CMD...: run a command as the postgres user when we are root
# (postgres refuses to run as root), as ourselves otherwise.
as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ensure_postgres_user() {
	((EUID == 0)) || return 0
	id -u postgres >/dev/null 2>&1 && return 0
	info "creating system user postgres"
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin postgres
}

# pg_connections: how many client connections the server has authorized so
# far (log_connections=on), proof that tests really talked to Postgres.
pg_connections() {
	[[ -f "$PG_DIR/server.log" ]] || {
		echo 0
		return
	}
	grep -c 'connection authorized' "$PG_DIR/server.log" || true
}

# pg_connections_since_start: connections made after the server became ready.
pg_connections_since_start() {
	echo $(($(pg_connections) - PG_CONN_BASELINE))
}

# start_postgres TMPDIR: initdb + start a throwaway cluster on a free
# loopback port; exports APPSTRATE_TEST_DATABASE_URL.
start_postgres() {
	local tmp="$1" log version
	PG_BIN="$(pg_bin_dir)"
	[[ -n "$PG_BIN" ]] || {
		err "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
		return 1
	}
	version="$("$PG_BIN/postgres" --version | awk '{print $3}')"
	ensure_postgres_user || return 1
	PG_DIR="$tmp/pg"
	mkdir -p "$PG_DIR/sock"
	if ((EUID == 0)); then
		chown -R postgres: "$PG_DIR"
	fi
	log="$PG_DIR/server.log"
	if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
		--encoding=UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1; then
		err "initdb failed:"
		cat "$tmp/initdb.log" >&2
		return 1
	fi
	for _ in 1 2 3 4 5; do
		PG_PORT="$(free_port)" || return 1
		if as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$log" -s -w -t 60 \
			-o "-p $PG_PORT -k '$PG_DIR/sock' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c log_connections=on" \
			start </dev/null >"$tmp/pg_ctl.log" 2>&1; then
			PG_STARTED=1
			break
		fi
		if grep -qs 'already in use\|could not bind' "$log"; then
			info "port $PG_PORT taken, retrying"
			continue
		fi
		err "PostgreSQL did not start; pg_ctl said:"
		cat "$tmp/pg_ctl.log" >&2
		err "server log ($log):"
		cat "$log" >&2 2>/dev/null || true
		return 1
	done
	[[ -n "$PG_STARTED" ]] || {
		err "PostgreSQL could not bind a free port after 5 attempts"
		return 1
	}
	# Bounded wait until it accepts connections on the TCP port tests use.
	local deadline=$((SECONDS + 60))
	until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2; do
		if ((SECONDS >= deadline)); then
			err "PostgreSQL is not ready after 60s; server log:"
			cat "$log" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.2
	done
	PG_CONN_BASELINE="$(pg_connections)"
	export APPSTRATE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
	info "PostgreSQL $version ready on 127.0.0.1:$PG_PORT (data in $PG_DIR)"
	info "APPSTRATE_TEST_DATABASE_URL=$APPSTRATE_TEST_DATABASE_URL"
}

stop_postgres() {
	[[ -n "$PG_STARTED" ]] || return 0
	PG_STARTED=""
	if ! as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -s -w -t 30 stop </dev/null >/dev/null 2>&1; then
		local pid
		pid="$(head -n1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)"
		if [[ -n "$pid" ]]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

REDIS_PID="" REDIS_PORT="" REDIS_DIR=""

# start_redis TMPDIR: a throwaway redis-server on a free loopback port, no
# persistence; exports APPSTRATE_TEST_REDIS_URL.
start_redis() {
	local tmp="$1" deadline log version
	REDIS_DIR="$tmp/redis"
	mkdir -p "$REDIS_DIR"
	log="$REDIS_DIR/redis.log"
	version="$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
	for _ in 1 2 3 4 5; do
		REDIS_PORT="$(free_port)" || return 1
		redis-server --save '' --appendonly no --bind 127.0.0.1 --port "$REDIS_PORT" \
			--dir "$REDIS_DIR" --daemonize no </dev/null >"$log" 2>&1 &
		REDIS_PID=$!
		deadline=$((SECONDS + 30))
		while :; do
			if [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]; then
				export APPSTRATE_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
				info "Redis $version ready on 127.0.0.1:$REDIS_PORT"
				info "APPSTRATE_TEST_REDIS_URL=$APPSTRATE_TEST_REDIS_URL"
				return 0
			fi
			if ! kill -0 "$REDIS_PID" 2>/dev/null; then
				wait "$REDIS_PID" 2>/dev/null || true
				REDIS_PID=""
				break
			fi
			if ((SECONDS >= deadline)); then
				err "Redis is not answering PING after 30s; log:"
				cat "$log" >&2
				return 1
			fi
			sleep 0.1
		done
		if grep -qs 'already in use\|Could not create server TCP' "$log"; then
			info "port $REDIS_PORT taken, retrying"
			continue
		fi
		err "redis-server exited; log:"
		cat "$log" >&2
		return 1
	done
	err "Redis could not bind a free port after 5 attempts"
	return 1
}

stop_redis() {
	[[ -n "$REDIS_PID" ]] || return 0
	local pid="$REDIS_PID" i
	REDIS_PID=""
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
