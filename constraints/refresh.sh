#!/usr/bin/env bash
# Re-resolve the pinned environments from pyproject.toml's ranges:
#   dev     the repository's own environment (Python 3.11, newest allowed)
#   newest  the matrix's newest end (Python 3.13, newest Django and boto3)
#   oldest  the matrix's oldest end (Python 3.11, Django 4.2, boto3 < 1.36)
# Each in a throwaway virtualenv; review the diff before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
resolve() {  # name python header extras requirement...
  local name=$1 python=$2 header=$3 extras=$4; shift 4
  local venv; venv=$(mktemp -d)
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet ".[$extras]" "$@"
  { printf '%s\n' "$header"; "$venv/bin/pip" freeze --exclude-editable | grep -v '^r2-toolkit'; } \
    > "constraints/$name.txt"
  rm -rf "$venv"
}
resolve dev python3.11 "# The repository's own environment (make install), Python 3.11: every version pinned.
# Regenerate with \`make constraints\` after changing pyproject.toml's ranges." site,test,dev,bench,wagtail
resolve newest python3.13 "# The matrix's newest end (nox session 'newest'): Python 3.13, the newest Django and boto3.
# Regenerate with \`make constraints\`." site,test
resolve oldest python3.11 "# The matrix's oldest end (nox session 'oldest'): Python 3.11, Django 4.2 LTS, boto3 < 1.36
# (before botocore's checksum change), django-storages 1.14.3. Regenerate with \`make constraints\`." \
  site,test "Django==4.2.*" "boto3<1.36" "botocore<1.36" "s3transfer<0.11" \
  "django-storages==1.14.3" "Pillow==10.*" "moto[server]<5.1" "tqdm<4.67" \
  "prometheus_client==0.17.*"
