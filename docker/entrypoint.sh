#!/bin/sh
# Container entrypoint: apply migrations, make the first admin account if asked, then run the
# given command (`feedsvc serve` by default; gunicorn web-only or `feedsvc worker` containers
# beside PostgreSQL). Concurrent starts are safe: on PostgreSQL the migration takes an advisory
# lock. FEEDSVC_SKIP_MIGRATIONS=1 leaves the migrations to another container (compose.yaml);
# FEEDSVC_ADMIN_PASSWORD_FILE names a file (a Docker/Compose secret) holding the password of
# an account `admin` made when no admin exists.
set -eu
if [ "${FEEDSVC_SKIP_MIGRATIONS:-0}" != "1" ]; then
    feedsvc db upgrade
fi
if [ -n "${FEEDSVC_ADMIN_PASSWORD_FILE:-}" ]; then
    feedsvc admin ensure --password-file "$FEEDSVC_ADMIN_PASSWORD_FILE"
fi
exec "$@"
