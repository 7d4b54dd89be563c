#!/bin/sh
# anxin postrm. Purge removes the config but keeps /var/lib/anxin and
# /var/backups/anxin if they hold anything (alarm records are not thrown away by a package manager)
# and keeps the anxin user (Debian practice: its files may remain).
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
	rm -f /etc/anxin/anxin.yaml
	rmdir /etc/anxin 2>/dev/null || true
	rmdir /var/lib/anxin 2>/dev/null || true
	rmdir /var/backups/anxin 2>/dev/null || true
fi
exit 0
