#!/usr/bin/env bash
# Dump the smsdesk database (PostgreSQL custom format) into BACKUP_DIR and delete
# dumps older than KEEP_DAYS. Reads DATABASE_URL (postgres://user:password@host:port/name)
# and hands it to pg_dump as PG* variables, so the password never shows in `ps`.
#
# The dump holds provider API keys encrypted with FIELD_ENCRYPTION_KEYS: it is
# useless without those keys, and the keys must never be stored next to it.
# Keep every key that encrypted a dump you keep (docs/DEPLOY.md, "Backups").
set -euo pipefail
umask 077

: "${DATABASE_URL:?DATABASE_URL is not set}"
BACKUP_DIR=${BACKUP_DIR:-/var/backups/smsdesk}
KEEP_DAYS=${KEEP_DAYS:-14}

pg_env=$(python3 - <<'PY'
import os, shlex
from urllib.parse import parse_qs, unquote, urlsplit

url = urlsplit(os.environ["DATABASE_URL"])
if url.scheme not in ("postgres", "postgresql", "pgsql"):
    raise SystemExit(f"backup.sh: DATABASE_URL is not PostgreSQL ({url.scheme})")
values = {
    "PGHOST": url.hostname or parse_qs(url.query).get("host", [""])[0],
    "PGPORT": str(url.port or ""),
    "PGUSER": unquote(url.username or ""),
    "PGPASSWORD": unquote(url.password or ""),
    "PGDATABASE": unquote(url.path.lstrip("/")),
}
for name, value in values.items():
    if value:
        print(f"export {name}={shlex.quote(value)}")
PY
)
eval "$pg_env"

mkdir -p "$BACKUP_DIR"
target="$BACKUP_DIR/smsdesk-$(date -u +%Y%m%dT%H%M%SZ).dump"
pg_dump --format=custom --no-owner --file="$target.partial"
mv "$target.partial" "$target"
find "$BACKUP_DIR" -name 'smsdesk-*.dump' -mtime +"$KEEP_DAYS" -delete
echo "backup written: $target ($(stat -c %s "$target") bytes)"
