"""Peer "polars (Python)": the clickstream batch job with Python polars' lazy, streaming engine.

Same rules as the example project: rows that fail the source's declared rules are dropped
(only notNull rejects a null); department = first segment of category_code, product = last
segment, a missing value (null, empty or blank, or the text 'nan' in any case) becomes 'other'
(also for brand in operations), revenue = price for purchases else 0. Events go to a Parquet
lake partitioned by date (Hive layout dt=YYYY-MM-DD) in one streaming pass through polars'
partitioned sink, with the project's compression; the four dashboard tables are computed from
the lake and written as Parquet. Prices are read as the declared DECIMAL, so sums are exact.

    .tools/bench-venv/bin/python bench/peers/polars_job.py --input FILE.csv --out DIR --spec spec.json
"""

import argparse
import json
import os
import re
import sys
import time

import polars as pl

STARTED = time.perf_counter()


def step(label):
    print(f"[polars-py] {label}: {time.perf_counter() - STARTED:.1f} s", file=sys.stderr, flush=True)


def polars_type(sql_type):
    t = sql_type.upper()
    if t == "BIGINT":
        return pl.Int64
    if t == "INTEGER":
        return pl.Int32
    if t == "DOUBLE":
        return pl.Float64
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if decimal:
        return pl.Decimal(int(decimal.group(1)), int(decimal.group(2)))
    return pl.String  # VARCHAR, and TIMESTAMP before strptime


def is_missing(e):
    trimmed = e.str.strip_chars(" \t")
    return e.is_null() | (trimmed == "") | (trimmed.str.to_lowercase() == "nan")


def or_other(e):
    return pl.when(is_missing(e)).then(pl.lit("other")).otherwise(e)


def passes_rules(rules):
    condition = pl.lit(True)
    for rule in rules:
        c = pl.col(rule["column"])
        if rule.get("notNull"):
            condition = condition & c.is_not_null()
        if "accepted" in rule:
            condition = condition & (c.is_null() | c.is_in(rule["accepted"]))
        if "min" in rule:
            condition = condition & (c.is_null() | (c >= rule["min"]))
        if "max" in rule:
            condition = condition & (c.is_null() | (c <= rule["max"]))
    return condition


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    out = os.path.abspath(args.out)
    lake = os.path.join(out, "lake", "events")
    tables = os.path.join(out, "tables")
    os.makedirs(tables, exist_ok=True)

    columns = spec["columns"]
    timestamps = [name for name, t in columns.items() if t.upper() == "TIMESTAMP"]
    events = (
        pl.scan_csv(os.path.abspath(args.input), has_header=True, schema={name: polars_type(t) for name, t in columns.items()})
        .with_columns(*[pl.col(name).str.strptime(pl.Datetime("us"), spec["timestampFormat"]) for name in timestamps])
        .filter(passes_rules(spec["rules"]))
        .with_columns(
            or_other(pl.col("category_code").str.split(".").list.first()).alias("department"),
            or_other(pl.col("category_code").str.split(".").list.last()).alias("product"),
            pl.when(pl.col("event_type") == "purchase").then(pl.col("price")).otherwise(pl.lit(0).cast(polars_type(columns["price"]))).alias("revenue"),
            pl.col("event_time").cast(pl.Date).alias("dt"),
        )
    )
    events.sink_parquet(pl.PartitionBy(lake, key="dt", include_key=False), compression=spec["compression"], maintain_order=False, mkdir=True, engine="streaming")
    step("events → lake")

    operations = pl.scan_parquet(lake, hive_partitioning=True).select(
        "event_time", "event_type", "category_code", or_other(pl.col("brand")).alias("brand"), "price", "department", "product", "revenue", "dt"
    )
    is_type = lambda name: (pl.col("event_type") == name).cast(pl.Int64).sum()
    counters = [pl.col("revenue").sum().alias("revenue"), is_type("purchase").alias("purchases"), is_type("view").alias("views"), is_type("cart").alias("carts")]
    per_minute = operations.group_by(pl.col("event_time").dt.truncate("1m").alias("minute"), "event_type").agg(pl.len().alias("operations")).collect(engine="streaming")
    per_minute.write_parquet(os.path.join(tables, "operations_per_minute.parquet"))
    step("operations_per_minute")
    by_department_brand = operations.group_by("dt", "department", "brand").agg(*counters).collect(engine="streaming")
    by_department_brand.write_parquet(os.path.join(tables, "by_department_brand.parquet"))
    step("by_department_brand")
    by_product = operations.group_by("product").agg(*counters).collect(engine="streaming")
    by_product.write_parquet(os.path.join(tables, "by_product.parquet"))
    step("by_product")
    # As models/kpis.sql: the dashboard's totals add up by_department_brand.
    kpis = by_department_brand.select(
        (pl.col("purchases").sum() + pl.col("views").sum() + pl.col("carts").sum()).alias("operations"),
        pl.col("revenue").sum(),
        pl.col("purchases").sum(),
        pl.col("views").sum(),
        pl.col("carts").sum(),
    )
    kpis.write_parquet(os.path.join(tables, "kpis.parquet"))
    step("kpis")

    k = kpis.row(0, named=True)
    result = {
        "operations": int(k["operations"]),
        "revenue": float(k["revenue"]),
        "purchases": int(k["purchases"]),
        "views": int(k["views"]),
        "carts": int(k["carts"]),
        "minuteRows": per_minute.height,
        "departmentBrandRows": by_department_brand.height,
        "productRows": by_product.height,
    }
    with open(os.path.join(out, "kpis.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
