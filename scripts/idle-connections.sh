#!/usr/bin/env bash
# Resources under idle connections (docs/reliability.md, "Idle connections"): starts the
# server on a free loopback port (SQLite, throwaway data dir), measures its RSS, opens
# IDLE_CONNECTIONS (default 1,000) connections that go quiet — half after a complete request
# (idle keep-alive), half in the middle of a request head — measures RSS again, then checks
# that the server closes every one of them within its timeouts and that it still answers;
# IDLE_ROUNDS times (default 3), so RSS that kept growing would show. Prints the figures;
# exits non-zero if a connection outlives its timeout or the server stops answering.
# Loopback only, bounded (about 6 s a round).
# Knobs: IDLE_CONNECTIONS, IDLE_ROUNDS; IDLE_SERVER_BIN (default: build the release binary).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}"
count="${IDLE_CONNECTIONS:-1000}"
server_bin="${IDLE_SERVER_BIN:-}"
if [ -z "$server_bin" ]; then
  cargo build --release --locked --quiet -p tmcp-server --bin tmcp-server
  server_bin="$CARGO_TARGET_DIR/release/tmcp-server"
fi
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Short timeouts so the check is quick; the defaults (10 s head, 60 s idle) bound the same way.
TMCP_LISTEN="127.0.0.1:$port" TMCP_DATA_DIR="$work/data" TMCP_DATABASE_URL= TMCP_REDIS_URL= \
  TMCP_LOG_LEVEL=warn TMCP_HTTP__HEADER_READ_TIMEOUT_SECS=3 TMCP_HTTP__IDLE_TIMEOUT_SECS=5 \
  TMCP_API_RATE_PER_MINUTE=1000000 TMCP_API_RATE_BURST=1000000 \
  "$server_bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

IDLE_PORT=$port IDLE_PID=$server_pid IDLE_COUNT=$count python3 - <<'EOF'
import os, socket, time, sys, urllib.request

port, pid, count = int(os.environ["IDLE_PORT"]), int(os.environ["IDLE_PID"]), int(os.environ["IDLE_COUNT"])

def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return -1.0

def ready():
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
        return r.status == 200

# Warm the server a little so the baseline includes its steady-state allocations.
for _ in range(50):
    ready()
rounds = int(os.environ.get("IDLE_ROUNDS", "3"))
before = rss_mb()
ok = True
for round_no in range(1, rounds + 1):
    socks = []
    started = time.monotonic()
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i % 2 == 0:
            # A complete request, its answer read, then silence on a keep-alive connection.
            s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
        else:
            # Half a request head, then silence.
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(s)
    opened = time.monotonic() - started
    time.sleep(0.5)
    with_idle = rss_mb()
    served_meanwhile = ready()
    # Every connection must be closed by the server: a read returns b"" (after a 408 answer
    # to the half head) once its timeout passes. Allow the timeout plus a margin.
    deadline = time.monotonic() + 5 + 5
    closed = 0
    for s in socks:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            while s.recv(4096):
                pass
            closed += 1
        except (socket.timeout, TimeoutError):
            pass
        except OSError:
            closed += 1
        s.close()
    after = rss_mb()
    still_serving = ready()
    print(f"round {round_no}: {count} idle connections opened in {opened:.1f} s; server RSS "
          f"{with_idle:.1f} MB with them open, {after:.1f} MB after; closed by the server "
          f"within their timeouts: {closed} of {count}; /ready answered meanwhile: "
          f"{served_meanwhile}, after: {still_serving}")
    ok = ok and closed == count and served_meanwhile and still_serving
print(f"idle connections: RSS {before:.1f} MB before the first round, {after:.1f} MB after "
      f"round {rounds} (+{(with_idle - before) * 1024 / count:.1f} KiB per open connection "
      f"in the last round)")
sys.exit(0 if ok else 1)
EOF
