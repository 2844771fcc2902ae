#!/bin/sh
# Docker secrets arrive as files; the case tracker reads its API token, metrics token and session key
# from the environment. For each NAME in the list, NAME_FILE (if set) names the file whose content
# becomes NAME.
set -eu
for name in BATIKNET_API_TOKEN BATIKNET_METRICS_TOKEN BATIKNET_SECRET_KEY; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        value=$(cat "$file")
        export "$name=$value"
        unset "${name}_FILE"
    fi
done
exec "$@"
