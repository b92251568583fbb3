"""Peer "pandas": the clickstream batch job with pandas, writing Parquet through pyarrow.

Same rules as the example project: department = first segment of category_code, product = last
segment, a missing value (null, empty or blank, or the text 'nan' in any case) becomes 'other'
(also for brand in operations), revenue = price for purchases else 0. Events are written
partitioned by date as Parquet (Hive layout dt=YYYY-MM-DD, one file per day that each chunk
appends a row group to, with the project's compression); the four dashboard tables are
computed and written beside them. The file is read in chunks so memory stays bounded, and the
dashboard aggregates are combined from per-chunk partial aggregates. Text columns are read as pandas categoricals, so the
per-value rules run once per distinct value, not once per row. Prices are float64 (no DECIMAL).

    .tools/bench-venv/bin/python bench/peers/pandas_job.py --input FILE.csv --out DIR --spec spec.json
"""

import argparse
import json
import os
import sys
import time
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

warnings.filterwarnings("ignore", category=pd.errors.PerformanceWarning)

STARTED = time.perf_counter()


def step(label):
    print(f"[pandas] {label}: {time.perf_counter() - STARTED:.1f} s", file=sys.stderr, flush=True)


def pandas_dtype(sql_type):
    t = sql_type.upper()
    if t == "BIGINT":
        return "int64"
    if t == "INTEGER":
        return "int32"
    if t == "DOUBLE" or t.startswith("DECIMAL"):
        return "float64"
    if t == "TIMESTAMP":
        return "object"  # parsed with the declared format below
    return "category"  # VARCHAR: categorical, rules run per distinct value


def is_missing_value(value):
    if value is None or (isinstance(value, float) and value != value):
        return True
    text = str(value).strip()
    return text == "" or text.lower() == "nan"


def or_other(series):
    """'other' for missing values, the value otherwise; works on the categories, not the rows."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.cat.categories
        mapped = ["other" if is_missing_value(c) else c for c in categories]
        codes = series.cat.codes.to_numpy()
        # A lookup table: code -> new label; code -1 (null) -> 'other'.
        lookup = pd.Series(mapped + ["other"])
        out = lookup.take(pd.Series(codes).where(codes >= 0, len(mapped)).to_numpy())
        return pd.Series(pd.Categorical(out.to_numpy()), index=series.index)
    return series.where(~series.map(is_missing_value), "other")


def segment(series, which):
    """First or last dotted segment of each category value (null stays null), per category."""
    categories = series.cat.categories
    parts = [str(c).split(".") for c in categories]
    mapped = [p[0] if which == "first" else p[-1] for p in parts]
    codes = series.cat.codes.to_numpy()
    lookup = pd.Series(mapped + [None], dtype="object")
    return pd.Series(lookup.take(pd.Series(codes).where(codes >= 0, len(mapped)).to_numpy()).to_numpy(), index=series.index)


def passes_rules(frame, rules):
    """The source's declared rules as a row mask; as in Tributary, only notNull rejects a null."""
    keep = pd.Series(True, index=frame.index)
    for rule in rules:
        column = frame[rule["column"]]
        if rule.get("notNull"):
            keep &= column.notna()
        if "accepted" in rule:
            keep &= column.isna() | column.isin(rule["accepted"])
        if "min" in rule:
            keep &= column.isna() | (column >= rule["min"])
        if "max" in rule:
            keep &= column.isna() | (column <= rule["max"])
    return keep


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--chunk-rows", type=int, default=2_000_000)
    args = parser.parse_args()

    with open(args.spec) as f:
        spec = json.load(f)
    columns = spec["columns"]
    # strftime-style format, e.g. '%Y-%m-%d %H:%M:%S UTC'
    timestamp_format = spec["timestampFormat"]
    timestamp_columns = [c for c, t in columns.items() if t.upper() == "TIMESTAMP"]
    dtypes = {c: pandas_dtype(t) for c, t in columns.items()}

    out = os.path.abspath(args.out)
    lake = os.path.join(out, "lake", "events")
    tables = os.path.join(out, "tables")
    os.makedirs(lake, exist_ok=True)
    os.makedirs(tables, exist_ok=True)

    kpi = {"operations": 0, "revenue": 0.0, "purchases": 0, "views": 0, "carts": 0}
    per_minute = []
    by_department_brand = []
    by_product = []
    writers = {}

    reader = pd.read_csv(
        args.input,
        dtype=dtypes,
        chunksize=args.chunk_rows,
        keep_default_na=False,  # only empty fields are null; 'nan' stays text and the rule handles it
        na_values=[""],
    )
    for number, chunk in enumerate(reader):
        for c in timestamp_columns:
            chunk[c] = pd.to_datetime(chunk[c], format=timestamp_format)
        chunk = chunk[passes_rules(chunk, spec["rules"])]
        # events: every source column plus the derived ones
        chunk["department"] = or_other(segment(chunk["category_code"], "first").astype("category"))
        chunk["product"] = or_other(segment(chunk["category_code"], "last").astype("category"))
        purchase = (chunk["event_type"] == "purchase").to_numpy()
        chunk["revenue"] = chunk["price"].where(purchase, 0.0)
        dt = chunk["event_time"].dt.normalize()

        for day, part in chunk.groupby(dt, sort=False, observed=True):
            name = day.strftime("%Y-%m-%d")
            table = pa.Table.from_pandas(part, preserve_index=False)
            # Categoricals become dictionaries whose index width follows each chunk's category
            # count; the files hold plain strings, one schema for every chunk.
            table = table.cast(pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in table.schema]))
            if name not in writers:
                directory = os.path.join(lake, f"dt={name}")
                os.makedirs(directory, exist_ok=True)
                writers[name] = pq.ParquetWriter(os.path.join(directory, "part-0.parquet"), table.schema, compression=spec["compression"])
            writers[name].write_table(table)

        # operations (no ids, brand 'other' when missing) and partial aggregates
        ops = pd.DataFrame(
            {
                "event_time": chunk["event_time"],
                "event_type": chunk["event_type"],
                "brand": or_other(chunk["brand"]),
                "department": chunk["department"],
                "product": chunk["product"],
                "revenue": chunk["revenue"],
                "purchase": purchase.astype("int64"),
                "view": (chunk["event_type"] == "view").to_numpy().astype("int64"),
                "cart": (chunk["event_type"] == "cart").to_numpy().astype("int64"),
            }
        )
        kpi["operations"] += len(ops)
        kpi["revenue"] += float(ops["revenue"].sum())
        kpi["purchases"] += int(ops["purchase"].sum())
        kpi["views"] += int(ops["view"].sum())
        kpi["carts"] += int(ops["cart"].sum())
        minute = ops["event_time"].dt.floor("min")
        per_minute.append(ops.groupby([minute, ops["event_type"]], observed=True).size())
        sums = ["revenue", "purchase", "view", "cart"]
        # per day, department and brand, as models/by_department_brand.sql
        by_department_brand.append(ops.groupby([dt.rename("dt"), ops["department"], ops["brand"]], observed=True)[sums].sum())
        by_product.append(ops.groupby(["product"], observed=True)[sums].sum())
        step(f"chunk {number}: {kpi['operations']:,} rows")

    for writer in writers.values():
        writer.close()
    step(f"lake: {len(writers)} partitions")

    def combine(parts):
        frame = pd.concat(parts)
        return frame.groupby(level=list(range(frame.index.nlevels)), observed=True).sum()

    minute_table = combine(per_minute).rename("operations").reset_index()
    minute_table.columns = ["minute", "event_type", "operations"]
    department_brand_table = combine(by_department_brand).reset_index()
    product_table = combine(by_product).reset_index()
    renames = {"purchase": "purchases", "view": "views", "cart": "carts"}
    department_brand_table = department_brand_table.rename(columns=renames)
    product_table = product_table.rename(columns=renames)
    pd.DataFrame([kpi]).to_parquet(os.path.join(tables, "kpis.parquet"), index=False)
    minute_table.to_parquet(os.path.join(tables, "operations_per_minute.parquet"), index=False)
    department_brand_table.to_parquet(os.path.join(tables, "by_department_brand.parquet"), index=False)
    product_table.to_parquet(os.path.join(tables, "by_product.parquet"), index=False)
    step("dashboard tables")

    result = dict(kpi)
    result["minuteRows"] = int(len(minute_table))
    result["departmentBrandRows"] = int(len(department_brand_table))
    result["productRows"] = int(len(product_table))
    with open(os.path.join(out, "kpis.json"), "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
