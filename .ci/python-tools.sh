#!/usr/bin/env bash
# Python tools the tests use as real peers and oracles (never the product, which runs on Node
# alone), pinned, in a virtual environment of the repository: .tools/venv.
#   moto[server]  an S3-compatible server (conditional writes, multipart, ListObjectsV2) the lake-on-S3 tests start
#   dbt-core, dbt-duckdb  dbt itself, the oracle the dbt-project tests compare Tributary's tables with;
#                 dbt-core 1.12 needs a parser wheel from GitHub, so 1.11; duckdb pinned to the
#                 engine version @duckdb/node-api ships, so both open each other's database files
#   pyiceberg[pyarrow]  an Iceberg reader independent of DuckDB, the oracle the lake-interop tests
#                 read Tributary's exported Iceberg metadata with
#
#   bash .ci/python-tools.sh        # idempotent: installs what is missing
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/venv
requirements=(
  'moto[server]==5.2.5'
  'dbt-core==1.11.16'
  'dbt-duckdb==1.11.1'
  'duckdb==1.5.5'
  'pyiceberg[pyarrow]==0.12.0'
)
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
stamp="$venv/.installed"
want=$(printf '%s\n' "${requirements[@]}")
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "python tools are in $venv"
  exit 0
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
echo "$want" > "$stamp"
echo "python tools installed in $venv"
