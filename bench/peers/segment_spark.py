"""Peer "spark" of the segment suite: the segment-warehouse job with PySpark in local mode (local[2]).

The load: the gzipped JSON-lines drops read by Spark's JSON reader with the source's declared
columns as the schema (context as the struct of its needed fields, properties and traits kept as
their JSON text), PERMISSIVE mode (a line Spark cannot read becomes nulls), JSON keys renamed to the
declared names, and the rows failing the source's rules dropped (the batch Spark peer's rules).
The transformations: the example's own model SQL run by Spark SQL, `{{ source() }}` and
`{{ ref() }}` replaced by views over what the peer wrote, after the rewrites in SPARK_DIALECT
(DuckDB functions Spark names or shapes differently). Lake models are written as Parquet
(partitioned like the project's partitionBy), the pipeline's serving tables as Parquet too (Spark
has no embedded database), the warehouse tables to PostgreSQL through JDBC (the PostgreSQL driver
jar, --jdbc-jar; tables created by Spark: text, timestamp, numeric, JSON values as text).

    .tools/bench-venv/bin/python bench/peers/segment_spark.py --spec spec.json --out DIR --jdbc-jar postgresql.jar
"""

import argparse
import json
import os
import re
import sys
import time
from urllib.parse import urlparse

from pyspark.sql import functions as F

from spark_job import local_session, passes_rules

# DuckDB's spelling in the models → Spark SQL's. Each is a rename or a reshaping of the same
# computation; none changes what a model means.
SPARK_DIALECT = [
    # DuckDB's first(x ORDER BY a DESC, b DESC) / first(x ORDER BY a, b): the value at the largest
    # / smallest (a, b), nulls of x kept, which is Spark's max_by / min_by over a struct.
    (re.compile(r"\bfirst\((\w+) ORDER BY (\w+) DESC, (\w+) DESC\)", re.I), r"max_by(\1, struct(\2, \3))"),
    (re.compile(r"\bfirst\((\w+) ORDER BY (\w+), (\w+)\)", re.I), r"min_by(\1, struct(\2, \3))"),
    # arg_min_null / arg_max_null(x, (a, b)): the same, with DuckDB's row value for the ordering.
    (re.compile(r"\barg_(min|max)_null\(([\w.]+), \(([\w.]+), ([\w.]+)\)\)"), r"\1_by(\2, struct(\3, \4))"),
    # first_value(x IGNORE NULLS): Spark takes whether to ignore nulls as an argument.
    (re.compile(r"\b(first|last)_value\(([\w.]+) IGNORE NULLS\)", re.I), r"\1_value(\2, true)"),
    # JSON text: DuckDB's ->> operator is Spark's get_json_object.
    (re.compile(r"(\w+) ->> ('\$\.\w+')"), r"get_json_object(\1, \2)"),
    (re.compile(r"\bepoch_ms\("), "unix_millis("),
    (re.compile(r"\bregexp_matches\("), "regexp("),
    (re.compile(r"\bends_with\("), "endswith("),
    # DuckDB's url_decode never fails; Spark's url_decode throws on a bad escape, try_url_decode gives null.
    (re.compile(r"\burl_decode\("), "try_url_decode("),
    # DATE - DATE is a number of days in DuckDB, an interval in Spark.
    (re.compile(r"\((\w+\.\w+) - (\w+\.\w+)\) / 7"), r"datediff(\1, \2) / 7"),
]

STARTED = time.perf_counter()


def log(line):
    print(f"[spark] {time.perf_counter() - STARTED:7.1f} s {line}", file=sys.stderr, flush=True)


def spark_type(duck):
    """A declared DuckDB type as Spark DDL: STRUCT(a T, …) → STRUCT<a T, …>, text and JSON as STRING."""
    ddl = duck.replace("STRUCT(", "STRUCT<").replace(")", ">")
    return re.sub(r"\b(VARCHAR|JSON)\b", "STRING", ddl)


def to_spark(sql):
    for pattern, replacement in SPARK_DIALECT:
        sql = pattern.sub(replacement, sql)
    return sql


def jdbc_of(url):
    """postgres://user@host:port/db → Spark's JDBC URL and connection properties."""
    u = urlparse(url)
    # Batched INSERTs rewritten as multi-row statements: the driver's fast path for Spark's writes.
    jdbc = f"jdbc:postgresql://{u.hostname}:{u.port or 5432}{u.path}?reWriteBatchedInserts=true"
    properties = {"driver": "org.postgresql.Driver", "user": u.username or "postgres", "batchsize": "10000"}
    if u.password:
        properties["password"] = u.password
    return jdbc, properties


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--jdbc-jar", required=True)
    parser.add_argument("--driver-memory", default="2g")
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    out = os.path.abspath(args.out)
    lake = os.path.join(out, "lake")

    spark = local_session(
        "tributary-bench-segment",
        out,
        args.driver_memory,
        {
            # The JDBC driver writes timestamps in the JVM's zone; UTC, like the drops and the other peers.
            "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
            "spark.jars": os.path.abspath(args.jdbc_jar),
            # The models' regular expressions are written for DuckDB, where a backslash in a literal is itself.
            "spark.sql.parser.escapedStringLiterals": "true",
        },
    )
    log("session")

    schema = ", ".join(f"`{c['key']}` {spark_type(c['type'])}" for c in spec["columns"])
    source = (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .json(spec["drops"])
        .select(*[F.col(f"`{c['key']}`").alias(c["name"]) for c in spec["columns"]])
        .filter(passes_rules(spec["rules"]))
    )
    source.createOrReplaceTempView("segment_source")
    jdbc, properties = jdbc_of(spec["warehouse"])

    steps = []
    for model in spec["models"]:
        started = time.perf_counter()
        sql = re.sub(r"\{\{\s*source\(\s*'\w+'\s*\)\s*\}\}", "segment_source", model["sql"])
        sql = re.sub(r"\{\{\s*ref\(\s*'(\w+)'\s*\)\s*\}\}", r"\1", sql)
        frame = spark.sql(to_spark(sql))
        name = model["name"]
        if model["materialize"] == "warehouse":
            frame.write.jdbc(jdbc, name, mode="overwrite", properties=properties)
        else:
            partition_by = model.get("partitionBy") or {}
            for key, expression in partition_by.items():
                if expression != key:
                    frame = frame.withColumn(key, F.expr(expression))
            path = os.path.join(lake, name)
            frame.write.mode("overwrite").partitionBy(*partition_by.keys()).parquet(path)
            # What the models downstream read: the files written, as the other peers read theirs.
            spark.read.parquet(path).createOrReplaceTempView(name)
        seconds = time.perf_counter() - started
        steps.append({"model": name, "materialize": model["materialize"], "seconds": seconds})
        log(f"{name}: {seconds:.2f} s")

    with open(os.path.join(out, "steps.json"), "w") as f:
        json.dump(steps, f, indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
