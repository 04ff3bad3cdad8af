#!/usr/bin/env bash
# Runs the Python conformance suite (pytest, the official tritonclient) against the real server.
# Its dependencies go into a venv under the user's cache folder, made on first run and reused
# while requirements.txt is unchanged: a fresh clone needs nothing but python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${TESSERA_PY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
key="$( (cat "$here/requirements.txt"; python3 --version) | sha256sum | cut -c1-16)"
venv="$cache/venv-$key"
if [[ ! -x "$venv/bin/python" || ! -f "$venv/.complete" ]]; then
  echo "test/python: creating $venv (first run)" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  touch "$venv/.complete"
fi
cd "$here/../.."
exec "$venv/bin/python" -m pytest "$here" "$@"
