#!/usr/bin/env bash
# Press → "received" of two builds of the gateway, side by side: the same
# firmware-sim load against each, interleaved A, B, A, B … for several
# rounds, each round on a fresh data directory. The load generator is built
# once (from the working tree), so only the gateway differs.
#
#   ./scripts/bench-ab.sh REV_A REV_B [ROUNDS] [DEVICES] [RATE] [DURATION]
#   ./scripts/bench-ab.sh main~5 HEAD 3 100 1000 10s
#
# It prints one line per run and, at the end, the median p50 and p99 of
# each side and their ratio B/A. Figures on a busy 2-core machine are noisy:
# read the ratio, not the absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."

rev_a=${1:?usage: bench-ab.sh REV_A REV_B [ROUNDS] [DEVICES] [RATE] [DURATION]}
rev_b=${2:?usage: bench-ab.sh REV_A REV_B [ROUNDS] [DEVICES] [RATE] [DURATION]}
rounds=${3:-3}
devices=${4:-100}
rate=${5:-1000}
duration=${6:-10s}

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

build() { # rev name
	local src="$work/src-$2"
	git worktree add -q --detach "$src" "$1"
	(cd "$src" && CGO_ENABLED=0 go build -o "$work/anxin-$2" ./cmd/anxin)
	git worktree remove --force "$src"
}
build "$rev_a" A
build "$rev_b" B
CGO_ENABLED=0 go build -o "$work/firmware-sim" ./cmd/firmware-sim

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() { # side round
	local bin="$work/anxin-$1" dir="$work/data-$1-$2" mqtt http pid token
	mqtt=$(free_port)
	http=$(free_port)
	mkdir -p "$dir"
	echo "bench-admin-password" | "$bin" user add -name admin -role admin -data-dir "$dir" >/dev/null 2>&1
	"$bin" -data-dir "$dir" -mqtt "127.0.0.1:$mqtt" -http "127.0.0.1:$http" -log-level error &
	pid=$!
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	token=$(curl -fs -X POST "http://127.0.0.1:$http/api/v1/login" \
		-d '{"user":"admin","password":"bench-admin-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
	"$work/firmware-sim" provision --api "http://127.0.0.1:$http" --token "$token" --count "$devices" >"$dir/devices.csv"
	local out
	out=$("$work/firmware-sim" bench --broker "tcp://127.0.0.1:$mqtt" --devices-file "$dir/devices.csv" \
		--rate "$rate" --duration "$duration" 2>&1 || true)
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	printf '%s round %s: %s\n' "$1" "$2" "$(echo "$out" | tr '\n' ' ')"
	echo "$out" >"$work/out-$1-$2"
}

for r in $(seq "$rounds"); do
	run A "$r"
	run B "$r"
done

python3 - "$work" "$rounds" <<'EOF'
import re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def figs(side):
    p50, p99 = [], []
    for r in range(1, rounds + 1):
        t = open(f"{work}/out-{side}-{r}").read()
        m50 = re.search(r"p50[ =:]+([\d.]+)\s*ms", t)
        m99 = re.search(r"p99[ =:]+([\d.]+)\s*ms", t)
        if m50 and m99:
            p50.append(float(m50.group(1))); p99.append(float(m99.group(1)))
    return p50, p99
a50, a99 = figs("A"); b50, b99 = figs("B")
if not (a50 and b50):
    sys.exit("no p50/p99 figures found in the bench output")
print(f"A p50 {a50} p99 {a99}")
print(f"B p50 {b50} p99 {b99}")
ma50, ma99, mb50, mb99 = map(statistics.median, (a50, a99, b50, b99))
print(f"median p50: A {ma50:.2f} ms, B {mb50:.2f} ms, B/A {mb50/ma50:.2f}")
print(f"median p99: A {ma99:.2f} ms, B {mb99:.2f} ms, B/A {mb99/ma99:.2f}")
EOF
