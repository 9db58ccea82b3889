#!/usr/bin/env bash
# The Debian package on this machine, as an operator meets it: build it,
# install it with dpkg, check what it laid down (the binary, man pages,
# completions, every unit verified by systemd and scored no worse than 1.2,
# the example config a conffile), reinstall over an edited config (kept),
# remove (config and state kept), purge (nothing of the package left).
# Needs root and dpkg; prints a table of what it checked and the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "package: needs root (dpkg -i)"; exit 1; }
need() { command -v "$1" >/dev/null || (apt-get update -qq && apt-get install -y -qq "$2") >/dev/null 2>&1 || true; }
need man man-db
need systemd-analyze systemd
deb=$(bash packaging/build-deb.sh | tail -1)
export DEBIAN_FRONTEND=noninteractive
fail=0
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; [ "$2" = ok ] || fail=1; }
check() { local what=$1; shift; if out=$("$@" 2>&1); then row "$what" ok "$(echo "$out" | tail -1 | cut -c1-80)"; else row "$what" FAIL "$(echo "$out" | tail -3 | tr '\n' ' ' | cut -c1-200)"; fi; }
echo "| check | result | detail |"
echo "|---|---|---|"
# A package before this one (a CI machine used twice) goes first.
dpkg --purge convsync >/dev/null 2>&1 || true
check "dpkg -i $(basename "$deb")" dpkg -i "$deb"
check "convsync --version from /usr/bin" /usr/bin/convsync --version
check "man -w convsync" man -w convsync
check "man -w convsync-run" man -w convsync-run
check "completions (bash, zsh, fish)" ls /usr/share/bash-completion/completions/convsync /usr/share/zsh/vendor-completions/_convsync /usr/share/fish/vendor_completions.d/convsync.fish
check "conffile /etc/convsync/config.toml" sh -c "dpkg-query -W -f='\${Conffiles}' convsync | grep /etc/convsync/config.toml"
check "nothing enabled by installing" sh -c "! ls /etc/systemd/system/*.wants/convsync* 2>/dev/null"
units=$(mktemp -d)
cp /lib/systemd/system/convsync.service "$units/"
cp /lib/systemd/system/convsync@.service "$units/convsync@brand-a.service"
cp /lib/systemd/system/convsync-backfill@.service "$units/convsync-backfill@2025-01-01.service"
cp /lib/systemd/system/convsync-migrate@.service "$units/convsync-migrate@liveperson-to-hubster.service"
for u in "$units"/*.service; do
  check "systemd-analyze verify $(basename "$u")" systemd-analyze verify "$u"
done
for u in convsync.service convsync@brand-a.service; do
  score=$(systemd-analyze security --offline=true "$units/$u" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 1.2) }'; then row "exposure of $u" ok "$score (<= 1.2)"; else row "exposure of $u" FAIL "$score"; fi
done
rm -rf "$units"
echo "# edited by the operator" >> /etc/convsync/config.toml
check "dpkg -i again over an edited config" sh -c "dpkg -i '$deb' </dev/null"
check "the edited config kept" grep -q "# edited by the operator" /etc/convsync/config.toml
mkdir -p /var/lib/convsync/brand-a && touch /var/lib/convsync/brand-a/convsync.redb
check "dpkg -r convsync" dpkg -r convsync
check "removed: binary gone, config and state kept" sh -c "[ ! -e /usr/bin/convsync ] && [ -e /etc/convsync/config.toml ] && [ -e /var/lib/convsync/brand-a/convsync.redb ]"
check "dpkg --purge convsync" dpkg --purge convsync
left=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | while read -r f; do [ -e "$f" ] && echo "$f"; done || true)
if [ -z "$left" ] && [ ! -e /var/lib/convsync ] && [ ! -e /etc/convsync/config.toml ]; then
  row "purged: no file of the package, no state" ok "$(dpkg-deb -c "$deb" | grep -vc '^d') files gone"
else
  row "purged: no file of the package, no state" FAIL "left: $left $(ls -d /var/lib/convsync /etc/convsync/config.toml 2>/dev/null)"
fi
bin_bytes=$(stat -c %s target/dist/convsync)
deb_bytes=$(stat -c %s "$deb")
if [ "$bin_bytes" -le 15000000 ]; then row "shipped binary <= 15 MB" ok "$bin_bytes bytes"; else row "shipped binary <= 15 MB" FAIL "$bin_bytes bytes"; fi
row "package size" ok "$deb_bytes bytes"
exit $fail
