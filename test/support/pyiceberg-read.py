"""Reads an Iceberg table from its metadata file with PyIceberg alone (no catalog, no DuckDB) and
prints, per value of one column, the rows and the sum of another, as JSON sorted by that value.

    python pyiceberg-read.py METADATA_FILE GROUP_COLUMN SUM_COLUMN [FILE_IO_PROPERTIES_JSON]
"""
import json
import sys

from pyiceberg.table import StaticTable

metadata, group, measure = sys.argv[1:4]
properties = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
groups = {}
for row in StaticTable.from_metadata(metadata, properties).scan().to_arrow().to_pylist():
    entry = groups.setdefault(str(row[group]), [0, 0])
    entry[0] += 1
    entry[1] += row[measure]
print(json.dumps([{group: key, "rows": rows, "sum": str(total)} for key, (rows, total) in sorted(groups.items())]))
