#!/bin/sh
# Creates .kino/s3-venv with moto_server (the S3-compatible server the
# kino-objects S3 test uses) from host/objects/tests/s3/requirements.txt,
# pinned by hash. Idempotent: does nothing while the venv matches the file.
# Run from anywhere; PYTHON picks the interpreter (default python3).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
requirements="$root/host/objects/tests/s3/requirements.txt"
venv="$root/.kino/s3-venv"
stamp="$venv/.requirements.sha256"
python=${PYTHON:-python3}

want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ -x "$venv/bin/moto_server" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "s3-venv: $python cannot create a venv with pip (on Debian: apt-get install python3-venv)" >&2
    exit 1
fi

# A stale or half-made venv is rebuilt from scratch.
rm -rf "$venv"
mkdir -p "$root/.kino"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --no-deps -r "$requirements"
"$venv/bin/moto_server" --help >/dev/null
echo "$want" > "$stamp"
echo "s3-venv: moto_server installed in $venv"
