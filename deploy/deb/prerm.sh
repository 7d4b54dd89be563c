#!/bin/sh
# anxin prerm: stop the gateway before its files go.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl disable --now anxin.service anxin-backup.timer || true
fi
exit 0
