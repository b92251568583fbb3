"""Peer "spark": the clickstream batch job with PySpark in local mode (local[2]), the seeds' engine.

Same rules as the example project: rows that fail the source's declared rules are dropped
(only notNull rejects a null); department = first segment of category_code, product = last
segment, a missing value (null, empty or blank, or the text 'nan' in any case) becomes 'other'
(also for brand in operations), revenue = price for purchases else 0. Events go to a Parquet
lake partitioned by date (Hive layout dt=YYYY-MM-DD) with the project's compression; the four
dashboard tables are computed from the lake and written as Parquet. Columns keep the declared
types: BIGINT as long, DECIMAL as Spark's decimal, so prices and revenue are exact.

    .tools/bench-venv/bin/python bench/peers/spark_job.py --input FILE.csv --out DIR --spec spec.json
"""

import argparse
import json
import os
import re
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

STARTED = time.perf_counter()


def step(label):
    print(f"[spark] {label}: {time.perf_counter() - STARTED:.1f} s", file=sys.stderr, flush=True)


def spark_type(sql_type):
    t = sql_type.upper()
    if t == "BIGINT":
        return T.LongType()
    if t == "INTEGER":
        return T.IntegerType()
    if t == "DOUBLE":
        return T.DoubleType()
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if decimal:
        return T.DecimalType(int(decimal.group(1)), int(decimal.group(2)))
    if t == "TIMESTAMP":
        return T.TimestampType()
    return T.StringType()


def java_format(strftime):
    """The spec's strftime format as a Java DateTimeFormatter pattern; literal text is quoted."""
    codes = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss"}
    out = []
    for token in re.split(r"(%[A-Za-z])", strftime):
        if token in codes:
            out.append(codes[token])
        elif token:
            literal = re.sub(r"([A-Za-z]+)", r"'\1'", token)
            out.append(literal)
    return "".join(out)


def is_missing(column):
    trimmed = F.trim(column)
    return column.isNull() | (trimmed == "") | (F.lower(trimmed) == "nan")


def or_other(column):
    return F.when(is_missing(column), F.lit("other")).otherwise(column)


def passes_rules(rules):
    condition = F.lit(True)
    for rule in rules:
        c = F.col(rule["column"])
        if rule.get("notNull"):
            condition = condition & c.isNotNull()
        if "accepted" in rule:
            condition = condition & (c.isNull() | c.isin(rule["accepted"]))
        if "min" in rule:
            condition = condition & (c.isNull() | (c >= F.lit(rule["min"])))
        if "max" in rule:
            condition = condition & (c.isNull() | (c <= F.lit(rule["max"])))
    return condition


def local_session(app, out, driver_memory, config):
    """The bench's Spark: local mode on two cores, UTC, no UI, scratch space under the peer's output; `config` on top."""
    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", os.path.join(out, "spark-tmp"))
    )
    for key, value in config.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--driver-memory", default="1g")
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    out = os.path.abspath(args.out)
    lake = os.path.join(out, "lake", "events")
    tables = os.path.join(out, "tables")

    spark = local_session("tributary-bench-clickstream", out, args.driver_memory, {"spark.sql.parquet.compression.codec": spec["compression"]})
    step("session")

    schema = T.StructType([T.StructField(name, spark_type(t), True) for name, t in spec["columns"].items()])
    events = (
        spark.read.schema(schema)
        .option("header", True)
        .option("mode", "PERMISSIVE")
        .option("timestampFormat", java_format(spec["timestampFormat"]))
        .csv(os.path.abspath(args.input))
        .filter(passes_rules(spec["rules"]))
        .withColumn("department", or_other(F.split_part(F.col("category_code"), F.lit("."), F.lit(1))))
        .withColumn("product", or_other(F.split_part(F.col("category_code"), F.lit("."), F.lit(-1))))
        .withColumn("revenue", F.when(F.col("event_type") == "purchase", F.col("price")).otherwise(F.lit(0).cast(spark_type(spec["columns"]["price"]))))
        .withColumn("dt", F.to_date(F.col("event_time")))
    )
    events.write.mode("overwrite").partitionBy("dt").parquet(lake)
    step("events → lake")

    operations = spark.read.parquet(lake).select(
        "event_time", "event_type", "category_code", or_other(F.col("brand")).alias("brand"), "price", "department", "product", "revenue", "dt"
    )
    counters = [
        F.sum("revenue").alias("revenue"),
        F.count(F.when(F.col("event_type") == "purchase", 1)).alias("purchases"),
        F.count(F.when(F.col("event_type") == "view", 1)).alias("views"),
        F.count(F.when(F.col("event_type") == "cart", 1)).alias("carts"),
    ]
    per_minute = operations.groupBy(F.date_trunc("minute", F.col("event_time")).alias("minute"), "event_type").agg(F.count(F.lit(1)).alias("operations"))
    per_minute.write.mode("overwrite").parquet(os.path.join(tables, "operations_per_minute"))
    step("operations_per_minute")
    by_department_brand = operations.groupBy("dt", "department", "brand").agg(*counters)
    by_department_brand.write.mode("overwrite").parquet(os.path.join(tables, "by_department_brand"))
    step("by_department_brand")
    by_product = operations.groupBy("product").agg(*counters)
    by_product.write.mode("overwrite").parquet(os.path.join(tables, "by_product"))
    step("by_product")
    # As models/kpis.sql: the dashboard's totals add up by_department_brand.
    saved = spark.read.parquet(os.path.join(tables, "by_department_brand"))
    kpis = saved.agg(
        (F.sum("purchases") + F.sum("views") + F.sum("carts")).alias("operations"),
        F.sum("revenue").alias("revenue"),
        F.sum("purchases").alias("purchases"),
        F.sum("views").alias("views"),
        F.sum("carts").alias("carts"),
    )
    kpis.write.mode("overwrite").parquet(os.path.join(tables, "kpis"))
    k = kpis.collect()[0]
    step("kpis")

    count = lambda name: spark.read.parquet(os.path.join(tables, name)).count()
    result = {
        "operations": int(k["operations"]),
        "revenue": float(k["revenue"]),
        "purchases": int(k["purchases"]),
        "views": int(k["views"]),
        "carts": int(k["carts"]),
        "minuteRows": count("operations_per_minute"),
        "departmentBrandRows": count("by_department_brand"),
        "productRows": count("by_product"),
    }
    with open(os.path.join(out, "kpis.json"), "w") as f:
        json.dump(result, f, indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
