#!/bin/sh
# anxin postinst: the anxin system user, its state directory and the
# config's group. Safe to run again (dpkg runs it on every configure).
set -e

if [ "$1" = configure ]; then
	if ! getent group anxin >/dev/null; then
		groupadd --system anxin
	fi
	if ! getent passwd anxin >/dev/null; then
		useradd --system --gid anxin --home-dir /var/lib/anxin --no-create-home \
			--shell /usr/sbin/nologin --comment "anxin gateway" anxin
	fi
	# The gateway's data: alarms, users, the embedded time series.
	chown anxin:anxin /var/lib/anxin
	chmod 0750 /var/lib/anxin
	# Nightly snapshots of that state (anxin-backup.timer).
	chown anxin:anxin /var/backups/anxin
	chmod 0750 /var/backups/anxin
	# The config may hold secrets: readable by the gateway, not by others.
	# Only on first install, so that an installer's own choice stays.
	if [ -z "$2" ]; then
		chown root:anxin /etc/anxin /etc/anxin/anxin.yaml
		chmod 0750 /etc/anxin
		chmod 0640 /etc/anxin/anxin.yaml
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
		# An upgrade restarts a running gateway; a first install starts
		# nothing until the config is edited (README: Install from a .deb).
		if [ -n "$2" ]; then
			systemctl try-restart anxin.service || true
		fi
	fi
	if [ -z "$2" ]; then
		echo "anxin: edit /etc/anxin/anxin.yaml, check it with 'anxin check-config /etc/anxin/anxin.yaml', then 'systemctl enable --now anxin'"
	fi
fi
exit 0
