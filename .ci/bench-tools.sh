#!/usr/bin/env bash
# The benchmarks' Python peers (never the product, which runs on Node alone), pinned, each in a
# virtual environment of its own so their dependency trees cannot bend each other or the test
# oracles in .tools/venv:
#   .tools/bench-venv    pyspark (local mode on the machine's Java 17), pandas + pyarrow (Parquet), polars
#   .tools/airflow-venv  apache-airflow with the LocalExecutor; its many pins stay apart from the engines'
# The bench runs this before a suite that uses them.
#
#   bash .ci/bench-tools.sh        # idempotent: installs what is missing
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
  local venv=$1
  shift
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  local stamp="$venv/.installed" want
  want=$(printf '%s\n' "$@")
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "bench peers are in $venv"
    return
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  echo "$want" > "$stamp"
  echo "bench peers installed in $venv"
}

install .tools/bench-venv 'pyspark==4.3.0' 'pandas==3.1.1' 'pyarrow==26.0.1' 'polars==2.1.0'
install .tools/airflow-venv 'apache-airflow==3.3.2'
