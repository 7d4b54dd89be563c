#!/bin/sh
# Runs the time-series tests against a real InfluxDB 1.8.10, building its
# influxd first when it is not installed (a few minutes, once). With CI=true
# the InfluxDB tests fail instead of skipping when influxd is missing.
#
#   scripts/influxd-test.sh                 # all of gateway/timeseries
#   scripts/influxd-test.sh -run Outage -v  # extra go test flags
set -eu

cd "$(dirname "$0")/.."
if [ -z "${ANXIN_INFLUXD:-}" ] && ! command -v influxd >/dev/null 2>&1 &&
	[ ! -x "$(go env GOPATH)/bin/influxd" ]; then
	echo "influxd not found; building InfluxDB 1.8.10's influxd (Debian's 1.6 lacks the v2 API)" >&2
	(cd / && go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10)
fi
CI=true exec go test ./gateway/timeseries/... "$@"
