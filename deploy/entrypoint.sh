#!/bin/sh
# One image, four roles: web | worker | cron | migrate (see README "Deployment").
set -eu
role="${1:-web}"
shift || true
case "$role" in
  web)     exec ztc web --host 0.0.0.0 --port "${PORT:-8400}" --workers "${WEB_WORKERS:-2}" "$@" ;;
  worker)  exec ztc worker "$@" ;;
  cron)    exec ztc cron "$@" ;;
  migrate) exec ztc db upgrade ;;
  *)       exec ztc "$role" "$@" ;;
esac
