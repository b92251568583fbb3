#!/usr/bin/env bash
# DuckDB's own extensions for the engine Tributary pins (httpfs, postgres, iceberg, avro, ducklake), taken
# from PyPI's wheels (duckdb-extension-<name>: DuckDB's signed builds, repackaged) for machines that
# reach PyPI but not DuckDB's extension repository, and unpacked in DuckDB's extension-directory
# layout: <dir>/v<version>/<platform>/<name>.duckdb_extension. Point TRIBUTARY_EXTENSIONS at <dir>.
# A user with internet needs none of this: `tributary extensions install` asks DuckDB itself.
#
#   bash .ci/duckdb-extensions.sh [dir]        # default: .duckdb-extensions in the repository
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(realpath -m "${1:-.duckdb-extensions}")"
read -r version platform < <(node --input-type=module -e "
  import { DuckDBInstance, version } from '@duckdb/node-api';
  const c = await (await DuckDBInstance.create()).connect();
  const platform = (await c.runAndReadAll('PRAGMA platform')).getRows()[0][0];
  console.log(version().slice(1), platform);")
target="$dir/v$version/$platform"
files=(httpfs postgres_scanner iceberg avro ducklake)
missing=()
for f in "${files[@]}"; do [ -f "$target/$f.duckdb_extension" ] || missing+=("$f"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "DuckDB extensions for v$version/$platform are in $target"
  exit 0
fi
case "$platform" in
  linux_amd64) wheel_platform=manylinux2014_x86_64 ;;
  linux_arm64) wheel_platform=manylinux2014_aarch64 ;;
  osx_arm64) wheel_platform=macosx_11_0_arm64 ;;
  windows_amd64) wheel_platform=win_amd64 ;;
  *) echo "no wheels of DuckDB's extensions are published for $platform; run \`tributary extensions install\` on a machine that reaches DuckDB's repository" >&2; exit 1 ;;
esac
wheels="$dir/wheels-$version"
mkdir -p "$wheels" "$target"
packages=()
for f in "${missing[@]}"; do packages+=("duckdb-extension-${f//_/-}==$version"); done
echo "downloading ${packages[*]} from PyPI"
python3 -m pip download --quiet --no-deps --only-binary=:all: --platform "$wheel_platform" -d "$wheels" "${packages[@]}"
unpacked="$wheels/unpacked"
rm -rf "$unpacked"
for wheel in "$wheels"/*.whl; do python3 -m zipfile -e "$wheel" "$unpacked"; done
for f in "${missing[@]}"; do
  found=$(find "$unpacked" -name "$f.duckdb_extension" | head -n 1)
  [ -n "$found" ] || { echo "the wheel for $f holds no $f.duckdb_extension" >&2; exit 1; }
  cp "$found" "$target/"
done
rm -rf "$unpacked"
echo "DuckDB extensions for v$version/$platform are in $target (export TRIBUTARY_EXTENSIONS=$dir)"
