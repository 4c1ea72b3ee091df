"""A portable dump of the whole store, and its restore into a fresh database.

The dump is JSON lines, the same from SQLite and PostgreSQL, so it also moves a store from one
to the other: a header (format, schema revision, the highest id each table ever handed out),
then per table in dependency order a line naming its columns followed by one JSON array per
row, and an end line with the row count (a dump cut short is refused). Datetimes are ISO 8601
in UTC.

Export reads one snapshot (a deferred read transaction on SQLite, REPEATABLE READ on
PostgreSQL) without blocking the service's writers. Import runs in one transaction into a
database migrated to the dump's revision and holding nothing but the rows its migrations made;
ids are kept, and so is each table's id high-water mark, so ids are still never reused.
"""

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Column, Connection, Table, delete, func, select, text

from feedsvc.db import Database, check_schema, schema_head
from feedsvc.errors import Conflict, InvalidInput
from feedsvc.models import Base, UTCDateTime
from feedsvc.text import utcnow

FORMAT = "feedsvc-dump"
VERSION = 1
BATCH = 1000
# Rows the migrations themselves insert: replaced by the dump's.
SEEDED_TABLES = frozenset({"content_state", "instance_keys"})


@dataclass(frozen=True)
class DumpReport:
    schema: str
    tables: int
    rows: int


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decode(column: Column[Any], value: Any) -> Any:
    if value is not None and isinstance(column.type, UTCDateTime):
        return datetime.fromisoformat(value)
    return value


def _id_column(table: Table) -> Column[Any] | None:
    """The single integer key a table numbers its rows with, if any."""
    (key, *more) = table.primary_key.columns
    return None if more or key.type.python_type is not int else key


def _high_water(connection: Connection, table: Table, key: Column[Any]) -> int:
    """The highest id the table ever handed out, deleted rows included, for the tables whose
    ids are never reused (AUTOINCREMENT on SQLite); the highest stored for the others, whose
    ids nothing outside keeps (SQLite cannot tell more of them)."""
    top = connection.scalar(select(func.max(key))) or 0
    if not table.dialect_options["sqlite"].get("autoincrement"):
        return int(top)
    if connection.dialect.name == "sqlite":
        used = connection.exec_driver_sql(
            "SELECT seq FROM sqlite_sequence WHERE name = ?", (table.name,)
        ).scalar()
    else:
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": key.name}
        )
        row = (
            connection.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
            if sequence
            else None
        )
        used = row[0] if row and row[1] else 0
    return max(top, used or 0)


def _set_high_water(connection: Connection, table: Table, key: Column[Any], value: int) -> None:
    if connection.dialect.name == "sqlite":
        if table.dialect_options["sqlite"].get("autoincrement"):
            updated = connection.exec_driver_sql(
                "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (value, table.name)
            )
            if not updated.rowcount:
                connection.exec_driver_sql(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table.name, value)
                )
        return
    sequence = connection.scalar(
        text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": key.name}
    )
    if sequence and value:
        connection.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": value})


@contextmanager
def snapshot(database: Database) -> Iterator[Connection]:
    """A read-only connection that sees one consistent state of the whole store."""
    with database.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")  # deferred: a WAL snapshot, no write lock
        else:
            connection = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        try:
            yield connection
        finally:
            connection.rollback()


def export_store(database: Database, out: IO[str]) -> DumpReport:
    """Write the dump of the store to ``out``."""
    check_schema(database)
    schema = schema_head()
    rows = 0
    tables = _tables()
    with snapshot(database) as connection:
        ids = {
            table.name: _high_water(connection, table, key)
            for table in tables
            if (key := _id_column(table)) is not None
        }
        header = {"format": FORMAT, "version": VERSION, "schema": schema, "ids": ids}
        _write(out, {**header, "exported_at": utcnow().isoformat()})
        for table in tables:
            _write(out, {"table": table.name, "columns": [c.name for c in table.columns]})
            query = select(table).order_by(*table.primary_key.columns)
            for row in connection.execution_options(yield_per=BATCH).execute(query):
                _write(out, [_encode(value) for value in row])
                rows += 1
    _write(out, {"end": True, "rows": rows})
    return DumpReport(schema, len(tables), rows)


def _write(out: IO[str], value: Any) -> None:
    out.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")


def import_store(database: Database, lines: Iterable[str]) -> DumpReport:
    """Restore a dump into a fresh database (migrated, nothing made in it yet)."""
    check_schema(database)
    records = (json.loads(line) for line in lines if line.strip())
    try:
        header = next(records)
    except StopIteration:
        raise InvalidInput("the dump is empty") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not a feedsvc dump: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput("not a feedsvc dump (no feedsvc-dump header)")
    if header.get("version") != VERSION:
        raise InvalidInput(f"dump format version {header.get('version')} is not {VERSION}")
    if header.get("schema") != schema_head():
        raise InvalidInput(
            f"the dump is of schema {header.get('schema')}, this feedsvc is at {schema_head()}:"
            " import it with the feedsvc version that made it, then upgrade"
        )
    tables = {table.name: table for table in _tables()}
    with database.transaction() as session:
        connection = session.connection()
        _check_fresh(connection, tables.values())
        for name in SEEDED_TABLES:
            connection.execute(delete(tables[name]))
        try:
            count = _insert_rows(connection, tables, records)
            for name, value in header.get("ids", {}).items():
                key = _id_column(tables[name])
                if key is not None:
                    _set_high_water(connection, tables[name], key, int(value))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"damaged dump: {exc!r}") from None
    return DumpReport(header["schema"], len(tables), count)


def _check_fresh(connection: Connection, tables: Iterable[Table]) -> None:
    made = [
        table.name
        for table in tables
        if table.name not in SEEDED_TABLES
        and connection.scalar(select(func.count()).select_from(table))
    ]
    if made:
        raise Conflict(
            f"the database is not empty ({', '.join(made)}): import into a fresh one"
            " (a new SQLite file or PostgreSQL database, after `feedsvc db upgrade`)"
        )


def _insert_rows(connection: Connection, tables: dict[str, Table], records: Iterator[Any]) -> int:
    count = 0
    table: Table | None = None
    columns: list[Column[Any]] = []
    batch: list[dict[str, Any]] = []
    for record in records:
        if isinstance(record, list):
            if table is None:
                raise ValueError("a row before any table line")
            batch.append({c.key: _decode(c, v) for c, v in zip(columns, record, strict=True)})
            count += 1
            if len(batch) >= BATCH:
                connection.execute(table.insert(), batch)
                batch = []
            continue
        if batch and table is not None:
            connection.execute(table.insert(), batch)
            batch = []
        if record.get("end"):
            if record.get("rows") != count:
                raise ValueError(f"{count} rows read, the dump says {record.get('rows')}")
            return count
        table = tables[record["table"]]
        columns = [table.columns[name] for name in record["columns"]]
    raise ValueError("the dump ends early (no end line): it was cut short")
