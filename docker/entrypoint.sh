#!/bin/sh
# Container entrypoint: apply migrations, then run the given command (gunicorn by default,
# `feedsvc worker` for scheduler containers). Concurrent starts are safe: on PostgreSQL the
# migration takes an advisory lock.
set -eu
if [ "${FEEDSVC_SKIP_MIGRATIONS:-0}" != "1" ]; then
    feedsvc db upgrade
fi
exec "$@"
