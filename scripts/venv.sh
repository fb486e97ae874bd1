#!/usr/bin/env bash
# Create .venv when missing and install the hub into it: `scripts/venv.sh` (the project) or
# `scripts/venv.sh dev` (the project and its dev dependencies). pip runs again only when
# pyproject.toml changed since the last install (a hash of it is kept in .venv/.hub-installed-*).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extras=${1:-base}
case "$extras" in
  base) spec="." ;;
  dev) spec=".[dev]" ;;
  *) echo "usage: scripts/venv.sh [base|dev]" >&2; exit 2 ;;
esac
venv=.venv

supported() {  # is "$1" a Python the project supports (3.11 to 3.13)?
  "$1" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 14)))' 2>/dev/null
}

find_python() {
  local candidate candidates=(python3.11 python3.12 python3.13 python3)
  if [ -n "${PYTHON:-}" ]; then candidates=("$PYTHON"); fi
  for candidate in "${candidates[@]}"; do
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [ ! -x "$venv/bin/python" ] || ! supported "$venv/bin/python"; then
  python=$(find_python) || {
    echo "error: no Python 3.11 found (looked for ${PYTHON:-python3.11, python3.12, python3.13, python3}); install python3.11 or set PYTHON=/path/to/python3.11" >&2
    exit 1
  }
  echo "creating $venv with $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
  rm -rf "$venv"
  if ! "$python" -m venv "$venv"; then
    echo "error: '$python -m venv' failed; on Debian/Ubuntu install the python3.11-venv package" >&2
    exit 1
  fi
fi

hash=$("$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' pyproject.toml)
stamp="$venv/.hub-installed-$extras"
# The dev install includes everything the base install has.
for done in "$stamp" "$venv/.hub-installed-dev"; do
  if [ -f "$done" ] && [ "$(cat "$done")" = "$hash" ]; then
    exit 0
  fi
done

log="$venv/pip.log"
echo "installing the hub into $venv (pip install -e '$spec'; pyproject.toml is new or changed; log: $log)"
if ! "$venv/bin/python" -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "error: pip install -e '$spec' failed (whole log: $log)" >&2
  exit 1
fi
echo "$hash" > "$stamp"
