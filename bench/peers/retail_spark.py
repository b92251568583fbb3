"""Peer "spark" of the retail suite: the retail-sales ETL step (stores, products, customers and the
drift-mapped sales_lines) with PySpark in local mode (local[2]), the engine the seeds ran on.

The job, as the example's sources declare it (the spec the suite writes from the project config):

- Each drop's header line is read first (in the driver, as Tributary reads the heads): a header
  that is not the declared one on ',' has its delimiter sniffed (the one giving most fields among
  , ; tab |), its fields mapped by the drift rules (renames; ignored columns dropped; a declared
  column the file lacks takes its default). Files are grouped by layout; a file whose header cannot
  be mapped has every non-empty line after the header rejected.
- Each layout is read by Spark's CSV reader as text with its own header and delimiter (PERMISSIVE,
  a line with too few or too many fields kept in the corrupt-record column), and each declared
  column is typed exactly from its text: integers as whole numbers only (a declared `integral`
  cast also takes "2.0"), decimals at their declared scale with nothing rounded (a declared
  `decimalSeparator: ','` reads "12,99" as 12.99), timestamps by Spark's own parser.
- A line is rejected when it is malformed, a value does not type, or a required column is empty;
  the others go to a Parquet lake partitioned by dt (the drop folder's day), snappy like the
  project's lake. Lines read and rejected are counted in the same pass (an Observation), not by
  reading the drops again; the rejected lines themselves are not kept (Tributary keeps them in its
  quarantine with file, line and reason).
- Net sales per day (quantity × unit_price − discount, exact decimals) are computed from the lake
  written, for the suite to check against the generator's manifest and Tributary's figures.

    .tools/bench-venv/bin/python bench/peers/retail_spark.py --spec spec.json --out DIR --driver-memory 4g

Writes DIR/result.json: lines read, loaded and rejected, net sales in cents per day, reference
rows, the layouts found, and the seconds of each part.
"""

import argparse
import csv
import glob
import json
import os
import sys
import time
from collections import defaultdict
from functools import reduce

from pyspark.sql import Observation
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_job import local_session

STARTED = time.perf_counter()
CORRUPT = "_corrupt_record"
SNIFFED = [",", ";", "\t", "|"]


def log(line):
    print(f"[spark] {time.perf_counter() - STARTED:7.1f} s {line}", file=sys.stderr, flush=True)


def split_header(line, delimiter):
    return next(csv.reader([line], delimiter=delimiter, quotechar='"'))


def head_of(path):
    """The file's first line, without its line ending or a byte-order mark."""
    with open(path, "rb") as f:
        return f.readline().decode("utf-8-sig").rstrip("\r\n")


def layout_of(head, keys, drift):
    """(delimiter, header, mapping): mapping is None for the declared layout, {column: field} for a
    mapped one, or the reason the header cannot be mapped."""
    delimiter = ","
    header = split_header(head, delimiter)
    if header == keys:
        return delimiter, header, None
    if drift.get("delimiter") == "sniff":
        # max keeps the first of equals: ',' unless another delimiter splits the header into more fields.
        delimiter = max(SNIFFED, key=lambda d: len(split_header(head, d)))
        header = split_header(head, delimiter)
    renames, ignore, defaults = drift.get("renames", {}), drift.get("ignore", []), drift.get("defaults", {})
    field_of, problems = {}, []
    for name in header:
        column = name if name in keys else renames.get(name)
        if header.count(name) > 1:
            problems.append(f"the header names {name} twice")
        elif column is not None:
            if column in field_of:
                problems.append(f"both {field_of[column]} and {name} would be {column}")
            field_of[column] = name
        elif name not in ignore:
            problems.append(f"unknown column {name}")
    problems += [f"no column for {key}" for key in keys if key not in field_of and key not in defaults]
    return delimiter, header, ("; ".join(problems) if problems else field_of)


def typed(text, sql_type, cast):
    """(value, failed) of a declared column from its text; failed: there is text but it does not type exactly."""
    t = sql_type.upper()
    if t in ("VARCHAR", "TEXT", "JSON"):
        return text, F.lit(False)
    source = text
    if cast.get("decimalSeparator") == ",":
        # "12,99" is 12.99; a value with both ',' and '.' stays as written, and fails.
        text = F.when((F.instr(text, ",") > 0) & (F.instr(text, ".") == 0), F.regexp_replace(text, ",", ".")).otherwise(text)
    if t in ("INTEGER", "BIGINT", "SMALLINT"):
        # Whole numbers only (Spark's cast would truncate "2.5"); an integral cast also takes a zero fraction.
        pattern = r"^\s*([+-]?\d+)(\.0*)?\s*$" if cast.get("integral") else r"^\s*([+-]?\d+)\s*$"
        digits = F.regexp_extract(text, pattern, 1)
        value = F.when(digits != "", digits.try_cast(t))
    elif t.startswith("DECIMAL"):
        # At the declared scale with nothing rounded: read wide, the value must equal the declared one.
        declared = text.try_cast(t)
        value = F.when(declared == text.try_cast("DECIMAL(38,18)"), declared)
    elif t == "TIMESTAMP":
        # The session is UTC: an offset is honoured, and the wall-clock time kept as TIMESTAMP (no zone).
        value = text.try_cast("TIMESTAMP").cast("TIMESTAMP_NTZ")
    else:
        value = text.try_cast(t)
    return value, source.isNotNull() & value.isNull()


def typed_lines(frame, header, columns, fields, defaults, casts, required):
    """The declared columns typed from a layout's text fields (or defaults), the reader's own
    columns (the dt partition) kept, and whether the line is rejected."""
    values, failures = [], []
    for name, sql_type in columns.items():
        text = F.col(f"`{fields[name]}`") if name in fields else F.lit(defaults[name]).cast("STRING")
        value, failed = typed(text, sql_type, casts.get(name, {}))
        values.append(value.alias(name))
        failures.append(failed | value.isNull() if name in required else failed)
    malformed = F.col(CORRUPT).isNotNull() if CORRUPT in frame.columns else F.lit(False)
    return frame.select(*values, *[c for c in frame.columns if c not in header and c != CORRUPT], reduce(lambda a, b: a | b, failures, malformed).alias("_rejected"))


def read_text(spark, paths, header, delimiter, options=None):
    """CSV files of one layout, every field as text, a malformed line's text in the corrupt-record column."""
    schema = T.StructType([T.StructField(h, T.StringType()) for h in header] + [T.StructField(CORRUPT, T.StringType())])
    reader = spark.read.schema(schema).option("header", True).option("sep", delimiter).option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT)
    return reader.options(**(options or {})).csv(paths)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--driver-memory", default="4g")
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    out = os.path.abspath(args.out)
    seconds = {}

    spark = local_session(
        "tributary-bench-retail",
        out,
        args.driver_memory,
        {
            "spark.sql.parquet.compression.codec": spec["compression"],
            # Spark's small-files setting: a drop averages about 60 KB, and the default cost of
            # opening a file (4 MB) packs only 32 drops into a read task, some 2,800 tasks a month.
            "spark.sql.files.openCostInBytes": str(64 * 1024),
        },
    )
    seconds["session"] = time.perf_counter() - STARTED
    log("session")

    # The reference tables: typed exactly, rows failing a rule dropped, each written as Parquet.
    reference = {}
    for table in spec["reference"]:
        started = time.perf_counter()
        names = list(table["columns"])
        lines = typed_lines(read_text(spark, table["path"], names, ","), names, table["columns"], {n: n for n in names}, {}, {}, table["required"])
        lines.filter(~F.col("_rejected")).drop("_rejected").write.mode("overwrite").parquet(os.path.join(out, "tables", table["name"]))
        reference[table["name"]] = spark.read.parquet(os.path.join(out, "tables", table["name"])).count()
        seconds[table["name"]] = time.perf_counter() - started
        log(f"{table['name']}: {reference[table['name']]} rows")

    # The drops' heads: each file's layout.
    started = time.perf_counter()
    sales = spec["sales"]
    columns, drift = sales["columns"], sales["drift"]
    keys = list(columns)
    files = sorted(glob.glob(os.path.join(sales["drops"], sales["pattern"])))
    layouts, mappings, unmappable = defaultdict(list), {}, {}
    for path in files:
        delimiter, header, mapping = layout_of(head_of(path), keys, drift)
        if isinstance(mapping, str):
            unmappable[path] = mapping
        else:
            layouts[(delimiter, tuple(header))].append(path)
            mappings[(delimiter, tuple(header))] = mapping
    seconds["heads"] = time.perf_counter() - started
    log(f"heads of {len(files)} files: {len(layouts)} layouts, {len(unmappable)} unmappable")

    # Every layout read and typed. The most common one is read as the drops folder, its dt=…
    # folders discovered as the partition and the files filtered by name (Spark lists a folder
    # in a second; a glob over 90,000 files, or the paths given one by one, take minutes), with
    # the files of the other layouts taken out of it.
    started = time.perf_counter()
    ordered = sorted(layouts.items(), key=lambda item: -len(item[1]))
    others = [path for _, paths in ordered[1:] for path in paths]
    parts = []
    for i, ((delimiter, header), paths) in enumerate(ordered):
        mapping = mappings[(delimiter, header)]
        fields = {k: k for k in keys} if mapping is None else mapping
        if i == 0:
            frame = read_text(spark, sales["drops"], list(header), delimiter, {"pathGlobFilter": os.path.basename(sales["pattern"])})
            if others:
                # Spark names a local file file:<absolute path>; the suite checks the lines read against the manifest.
                frame = frame.filter(~F.col("_metadata.file_path").isin([f"file:{p}" for p in others]))
        else:
            frame = read_text(spark, paths, list(header), delimiter, {"basePath": sales["drops"]})
        parts.append(typed_lines(frame, header, columns, fields, drift.get("defaults", {}), drift.get("casts", {}), sales["required"]))
    lines = reduce(lambda a, b: a.unionByName(b), parts)
    observation = Observation("load")
    lines = lines.observe(observation, F.count(F.lit(1)).alias("read"), F.sum(F.col("_rejected").cast("long")).alias("rejected"))
    lake = os.path.join(out, "lake", "sales_lines")
    loaded = lines.filter(~F.col("_rejected")).select(*keys, F.col("dt").cast("DATE").alias("dt"))
    # Shuffled by day first: a read task holds files of every day, and written as they are, each
    # would write a Parquet file per day (thousands of small files, each a forked chmod in
    # Hadoop's local file system without its native library); so a file per day, as Tributary's lake.
    loaded.repartition("dt").write.mode("overwrite").partitionBy("dt").parquet(lake)
    counts = observation.get
    # A file whose header cannot be mapped: every non-empty line after its header is a rejected line.
    unmapped_lines = 0
    for path in unmappable:
        with open(path, "rb") as f:
            unmapped_lines += sum(1 for i, line in enumerate(f) if i > 0 and line.strip())
    seconds["sales_lines"] = time.perf_counter() - started
    read, rejected = int(counts["read"]) + unmapped_lines, int(counts["rejected"] or 0) + unmapped_lines
    log(f"sales_lines: {read} lines read, {read - rejected} loaded, {rejected} rejected")

    started = time.perf_counter()
    net = (
        spark.read.parquet(lake)
        .groupBy("dt")
        .agg(F.sum(F.col("quantity") * F.col("unit_price") - F.col("discount")).alias("net"))
        .orderBy("dt")
        .collect()
    )
    seconds["net_sales_per_day"] = time.perf_counter() - started
    log("net sales per day")

    result = {
        "read": read,
        "loaded": read - rejected,
        "rejected": rejected,
        "netSalesCentsByDt": {str(r["dt"]): int(r["net"] * 100) for r in net},
        "reference": reference,
        "files": len(files),
        "layouts": [{"delimiter": d, "header": list(h), "files": len(p)} for (d, h), p in ordered],
        "unmappable": unmappable,
        "seconds": seconds,
    }
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
