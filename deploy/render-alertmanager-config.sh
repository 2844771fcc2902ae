#!/bin/sh
# render-alertmanager-config.sh SOURCE TOKEN_FILE OUTPUT
#
# Alertmanager 0.25 (Debian 12) cannot read the Telegram bot token from a file, so the committed
# alertmanager.yml carries the placeholder @TELEGRAM_BOT_TOKEN@. This writes SOURCE to OUTPUT with the
# token from TOKEN_FILE in its place, readable by the owner only. Used by the systemd drop-in (before start
# and on reload) and by docker-compose.yml (before start).
set -eu
if [ "$#" -ne 3 ]; then
    echo "usage: $0 SOURCE TOKEN_FILE OUTPUT" >&2
    exit 2
fi
source=$1
token_file=$2
output=$3
token=$(cat "$token_file")
# A bot token is "<digits>:<letters, digits, - and _>"; anything else could break the substitution.
if ! printf '%s' "$token" | grep -Eq '^[0-9]+:[A-Za-z0-9_-]+$'; then
    echo "$0: $token_file does not hold a Telegram bot token (<digits>:<letters, digits, - and _>)" >&2
    exit 1
fi
umask 077
sed "s|\"@TELEGRAM_BOT_TOKEN@\"|\"$token\"|" "$source" > "$output.tmp"
mv "$output.tmp" "$output"
