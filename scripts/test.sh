#!/usr/bin/env bash
# The one test command (see README): on a fresh Debian machine with only Go,
# it installs what the tests need, then vets and tests every package with
# the race detector; run with no arguments, it then cross-builds the three
# commands for the Raspberry Pi (linux/arm64, linux/arm GOARM=7,
# CGO_ENABLED=0; deploy/cross_test.go), summed up with their sizes in one
# "cross builds:" line, and builds the .deb packages and installs, checks
# and purges the amd64 one on this machine (deploy/deploy_test.go; needs
# root), summed up in one "deb packages:" line.
#
#   ./scripts/test.sh                       # everything
#   ./scripts/test.sh -run Crash ./gateway/ # arguments replace ./... for go test (no packages)
#
# What it installs, each only when missing:
#   mosquitto, mosquitto-clients  the MQTT tests' outside client (apt)
#   prometheus                    for promtool, which checks deploy/prometheus (apt)
#   zsh                           anxinctl's zsh completion is loaded by a real zsh (apt)
#   bsdutils                      script(1): anxinctl runs under a real pseudo-terminal in tests (apt)
#   python3, openssl              run the README's webhook verification examples (apt)
#   prometheus-alertmanager       a real Alertmanager for the Alertmanager notifier (apt)
#   systemd                       for systemd-analyze verify of the packaged unit (apt)
#   nfpm                          builds the .deb packages (scripts/package.sh go installs it)
#   gcc                           -race needs cgo (apt)
#   postgresql                    the state conformance suite and the gateway's tests on
#                                 state.backend postgres (apt; internal/pgtest runs its own
#                                 throw-away cluster as the postgres user, never the package's)
#   influxd 1.8.10                real InfluxDB for the time-series tests (go install)
#   npm packages                  npm ci in web/ and e2e/, if they have a package.json
#   chromium                      the browser tests' browser, /usr/bin/chromium (apt;
#                                 e2e/ drives it with playwright-core, never a downloaded one)
#   fonts-wqy-microhei            a CJK font, so the browser tests' screenshots show Chinese (apt)
#
# apt runs through sudo when not root. With CI=true (as .ci/run sets), a
# test whose tool is still missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

command -v go >/dev/null || { echo "go is not on PATH: install Go first (see go.mod for the version)" >&2; exit 1; }

# Programs from go install live in GOBIN or the first GOPATH entry's bin.
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
export PATH="$gobin:$PATH"

npm_dirs=()
for d in web e2e; do
	[ -f "$d/package.json" ] && npm_dirs+=("$d")
done

apt_pkgs=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || apt_pkgs+=(mosquitto)
{ command -v mosquitto_pub && command -v mosquitto_sub; } >/dev/null || apt_pkgs+=(mosquitto-clients)
command -v promtool >/dev/null || apt_pkgs+=(prometheus)
command -v zsh >/dev/null || apt_pkgs+=(zsh)
command -v script >/dev/null || apt_pkgs+=(bsdutils) # util-linux's script: anxinctl's tests under a pseudo-terminal
command -v python3 >/dev/null || apt_pkgs+=(python3)
command -v openssl >/dev/null || apt_pkgs+=(openssl)
[ -x /usr/bin/prometheus-alertmanager ] || apt_pkgs+=(prometheus-alertmanager)
if [ $# -eq 0 ]; then
	command -v systemd-analyze >/dev/null || apt_pkgs+=(systemd)
fi
command -v gcc >/dev/null || apt_pkgs+=(gcc libc6-dev)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_pkgs+=(postgresql)
if [ ${#npm_dirs[@]} -gt 0 ] && ! command -v npm >/dev/null; then
	apt_pkgs+=(npm)
fi
if [ -f e2e/package.json ] && [ ! -x /usr/bin/chromium ]; then
	apt_pkgs+=(chromium)
fi
# Chinese text in the browser tests' screenshots needs a CJK font.
if [ -f e2e/package.json ] && ! { command -v fc-list >/dev/null && fc-list :lang=zh | grep -q .; }; then
	apt_pkgs+=(fonts-wqy-microhei)
fi

if [ ${#apt_pkgs[@]} -gt 0 ]; then
	if ! command -v apt-get >/dev/null; then
		log "missing ${apt_pkgs[*]} and no apt-get here: install them by hand (tests that need them skip, or fail with CI=true)"
	else
		sudo=()
		if [ "$(id -u)" -ne 0 ]; then
			command -v sudo >/dev/null || { echo "need root or sudo to apt-get install ${apt_pkgs[*]}" >&2; exit 1; }
			sudo=(sudo)
		fi
		log "apt-get install ${apt_pkgs[*]}"
		"${sudo[@]}" apt-get update
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_pkgs[@]}"
	fi
fi

if ! command -v influxd >/dev/null; then
	log "go install influxd v1.8.10 into $gobin"
	go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10
fi

for d in "${npm_dirs[@]}"; do
	log "npm ci in $d/"
	(cd "$d" && npm ci)
done

log "$(go version)"
log "mosquitto_pub: $(mosquitto_pub --help 2>/dev/null | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -1 || true)"
log "influxd: $(influxd version 2>/dev/null | head -1 || true)"

status=0
all=0
log "go vet ./..."
go vet ./... || status=1
if [ $# -eq 0 ]; then
	all=1
	set -- ./...
fi
log "go test -race -timeout 25m $*"
go test -race -timeout 25m "$@" || status=1

# The Raspberry Pi builds, with their sizes; no root needed.
if [ $all -eq 1 ]; then
	log "ANXIN_CROSS_TEST=1 go test -v -run TestCrossBuilds ./deploy/"
	crossout="$(mktemp)"
	if ANXIN_CROSS_TEST=1 go test -count=1 -timeout 15m -v -run '^TestCrossBuilds$' ./deploy/ 2>&1 | tee "$crossout"; then
		log "cross builds: ok ($(sed -n 's/.*cross: //p' "$crossout" | head -1))"
	else
		log "cross builds: FAILED (see TestCrossBuilds above)"
		status=1
	fi
	rm -f "$crossout"
fi

# The packages: built for amd64, arm64 and armhf, and the amd64 one
# installed here for real, so only as root.
if [ $all -eq 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		if [ "${CI:-}" = true ]; then
			log "deb packages: FAILED (needs root for dpkg -i; CI=true)"
			status=1
		else
			log "deb packages: SKIPPED (needs root for dpkg -i)"
		fi
	else
		log "ANXIN_DEB_TEST=1 go test -v -run TestDebPackage ./deploy/"
		debout="$(mktemp)"
		if ANXIN_DEB_TEST=1 go test -count=1 -timeout 10m -v -run '^TestDebPackage$' ./deploy/ 2>&1 | tee "$debout"; then
			if grep -q -- '--- SKIP: TestDebPackage' "$debout"; then
				log "deb packages: SKIPPED ($(grep -A1 -- '--- SKIP: TestDebPackage' "$debout" | tail -1 | sed 's/^ *//'))"
			else
				log "deb packages: ok ($(sed -n 's/.*deb: built/built/p' "$debout" | head -1))"
			fi
		else
			log "deb packages: FAILED (see TestDebPackage above)"
			status=1
		fi
		rm -f "$debout"
	fi
fi
if [ $status -ne 0 ]; then
	log "FAILED"
fi
exit $status
