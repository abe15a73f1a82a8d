#!/bin/sh
# One image, four roles: web | worker | cron | migrate (see README "Deployment"); anything else is
# passed to `ztc` (e.g. `docker compose run --rm worker outbox failed`). tests/test_deploy.py runs
# this script with a stand-in `ztc` and checks each role's command line.
set -eu
role="${1:-web}"
# A bare `shift` with no arguments would stop dash (the image's /bin/sh), `|| true` or not.
if [ "$#" -gt 0 ]; then shift; fi
case "$role" in
  web)     exec ztc web --host 0.0.0.0 --port "${PORT:-8400}" --workers "${WEB_WORKERS:-2}" "$@" ;;
  worker)  exec ztc worker "$@" ;;
  cron)    exec ztc cron "$@" ;;
  migrate) exec ztc db upgrade ;;
  *)       exec ztc "$role" "$@" ;;
esac
