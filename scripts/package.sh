#!/usr/bin/env bash
# Builds the anxin .deb packages into dist/:
#
#   ./scripts/package.sh                 # amd64, arm64 and armhf
#   ./scripts/package.sh amd64           # only those named
#
# Each holds anxin, anxinctl and firmware-sim (CGO_ENABLED=0; GOARM=7 for
# armhf, a Raspberry Pi 2 or later with a 32-bit OS), the systemd unit and
# /etc/anxin/anxin.yaml as a conffile; deploy/deb/ has the nfpm file and the
# maintainer scripts. It prints one "package: dist/FILE.deb" line per package.
#
# Version: $ANXIN_VERSION, else the newest tag (v1.2.0 → 1.2.0, with
# +N.gHASH after it when HEAD is past the tag), else 0.0.0+gHASH. It goes
# into the binaries (--version, anxin_build_info) and the package.
#
# nfpm: from PATH or $(go env GOPATH)/bin, else go install'ed at NFPM_VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."

NFPM_VERSION=v2.43.0
# The Maintainer field: the project, reached through its issue tracker (it
# has no mail address yet). Whoever builds packages for their own users
# sets ANXIN_MAINTAINER to "Name <address>" of the people who answer for them.
: "${ANXIN_MAINTAINER:=anxin project <https://github.com/anxin-care/anxin/issues>}"
export ANXIN_MAINTAINER

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
export PATH="$gobin:$PATH"
if ! command -v nfpm >/dev/null; then
	echo "==> go install github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" >&2
	go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
fi

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [ -z "${ANXIN_VERSION:-}" ]; then
	if desc="$(git describe --tags --match 'v[0-9]*' 2>/dev/null)"; then
		# v1.2.0-3-gabc1234 → 1.2.0+3.gabc1234: later than 1.2.0 to dpkg.
		ANXIN_VERSION="$(printf '%s' "${desc#v}" | sed -E 's/-([0-9]+)-g([0-9a-f]+)$/+\1.g\2/')"
	else
		ANXIN_VERSION="0.0.0+g$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
	fi
fi
export ANXIN_VERSION

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64 armhf)

pkg=github.com/anxin-care/anxin/internal/buildinfo
ldflags="-s -w -X $pkg.version=$ANXIN_VERSION -X $pkg.revision=$revision"
mkdir -p dist
for arch in "${archs[@]}"; do
	goarm=
	case "$arch" in
	amd64 | arm64) goarch=$arch ;;
	armhf) goarch=arm goarm=7 ;;
	*)
		echo "package.sh: unknown architecture $arch (amd64, arm64 or armhf)" >&2
		exit 2
		;;
	esac
	build="dist/build/$arch"
	rm -rf "$build"
	mkdir -p "$build"
	echo "==> $arch: go build (GOARCH=$goarch${goarm:+ GOARM=$goarm}) anxin $ANXIN_VERSION" >&2
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		go build -trimpath -ldflags "$ldflags" -o "$build/" ./cmd/anxin ./cmd/anxinctl ./cmd/firmware-sim
	deb="dist/anxin_${ANXIN_VERSION}_${arch}.deb"
	rm -f "$deb"
	# nfpm expands variables in a few fields only: fill in all of ours.
	ANXIN_DEB_ARCH=$arch ANXIN_BUILD_DIR=$build perl -pe \
		's/\$\{(ANXIN_[A-Z_]+)\}/exists $ENV{$1} ? $ENV{$1} : die "package.sh: $1 is not set\n"/ge' \
		deploy/deb/nfpm.yaml >"$build/nfpm.yaml"
	nfpm package --config "$build/nfpm.yaml" --packager deb --target "$deb" >&2
	echo "package: $deb"
done
