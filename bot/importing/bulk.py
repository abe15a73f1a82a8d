"""Inserting many rows fast: COPY on PostgreSQL, the driver's executemany on SQLite.

An import of 20,000 enterprises writes 20,000 rows and 20,000 audit rows. Through the ORM that
took about 30× as long as a bare SQLAlchemy Core executemany of the enterprises (bench/imports.py),
and even Core executemany spends most of its time building parameters row by row in Python. So
each value goes through its column type's own bind processor (exactly what SQLAlchemy would send:
UTC datetimes, JSON text or psycopg's Json), values shared by every row are processed once, and
the rows go to the database in one COPY (psycopg) or one executemany (sqlite3). Other backends
take Core executemany.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Table, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

KEYS_PER_QUERY = 5_000  # keys per IN (…) when reading new ids back: well under any bound-parameter limit


@contextmanager
def no_gc_pauses() -> Iterator[None]:
    """Hold the cyclic garbage collector off for the duration (if it was on, it is on again after).

    A large import allocates a dozen small containers per row (cells, values, audit data), none in
    a reference cycle, and keeps them until it ends: the collector's passes over that growing heap
    took about 30% of a 20,000-row import (bench/imports.py), with nothing to collect. Reference
    counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def insert_many(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    shared: Mapping[str, Any] | None = None,
    *,
    ids_by: str | None = None,
) -> dict[Any, int]:
    """Insert `rows` (all with the same keys) plus the `shared` values, in the session's transaction.

    Columns given in neither take their Python-side default, as Core would; server defaults and the
    autoincrement key are the database's. With `ids_by` (a unique column), the new rows' ids by it.
    """
    if not rows:
        return {}
    shared = {**_defaults(table, {*rows[0], *(shared or {})}), **(shared or {})}
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        ids = _reserve_ids(connection, table, len(rows)) if ids_by else None
        _copy(connection, table, rows, shared, ids)
        return {row[ids_by]: id_ for row, id_ in zip(rows, ids, strict=True)} if ids_by and ids else {}
    if dialect.name == "sqlite":
        _executemany(connection, table, rows, shared)
    else:
        connection.execute(insert(table), [{**row, **shared} for row in rows])
    return _ids(connection, table, ids_by, [row[ids_by] for row in rows]) if ids_by else {}


def _defaults(table: Table, given: set[str]) -> dict[str, Any]:
    """The Python-side defaults of the columns not given (a callable is called once: these are values)."""
    values: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if default.is_scalar:
            values[column.name] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            values[column.name] = default.arg(None)  # type: ignore[attr-defined]  # wrapped: takes a context
        else:
            raise TypeError(
                f"{table.name}.{column.name}: a {type(default).__name__} default is not supported"
            )
    return values


def _key(table: Table) -> Column[Any]:
    (column,) = table.primary_key.columns
    return column


def _reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """`count` ids from the key's own sequence, as the rows' defaults would have taken them."""
    sequence = func.pg_get_serial_sequence(table.name, _key(table).name)
    query = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
    return list(connection.scalars(query))


def _ids(connection: Connection, table: Table, by: str, keys: Sequence[Any]) -> dict[Any, int]:
    """The ids of rows by a unique column, read through its index a chunk of keys at a time."""
    column, ids = table.c[by], {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        query = select(column, _key(table)).where(column.in_(keys[start : start + KEYS_PER_QUERY]))
        ids.update({key: id_ for key, id_ in connection.execute(query)})
    return ids


def _processor(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """What SQLAlchemy does to a value of this column before the driver sees it."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _same


def _same(value: Any) -> Any:
    return value


def _prepared(
    table: Table, dialect: Dialect, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and value tuples, processed for the driver; shared values processed once."""
    names = list(rows[0])
    fixed = tuple(_processor(table.c[name], dialect)(value) for name, value in shared.items())
    processed = [
        (index, process)
        for index, name in enumerate(names)
        if (process := _processor(table.c[name], dialect)) is not _same
    ]
    take: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
        itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    )
    if not processed:  # text and numbers: no Python work per value
        return [*names, *shared], [take(row) + fixed for row in rows]
    tuples = []
    for row in rows:
        values = list(take(row))
        for index, process in processed:
            values[index] = process(values[index])
        tuples.append((*values, *fixed))
    return [*names, *shared], tuples


def _column_list(dialect: Dialect, columns: Sequence[str]) -> str:
    return ", ".join(dialect.identifier_preparer.quote(c) for c in columns)


def _copy(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    shared: Mapping[str, Any],
    ids: list[int] | None,
) -> None:
    """COPY … FROM STDIN on the session's own psycopg connection (so inside its transaction)."""
    dialect = connection.dialect
    columns, tuples = _prepared(table, dialect, rows, shared)
    if ids is not None:
        columns, tuples = (
            [_key(table).name, *columns],
            [(id_, *t) for id_, t in zip(ids, tuples, strict=True)],
        )
    table_name = dialect.identifier_preparer.quote(table.name)
    statement = f"COPY {table_name} ({_column_list(dialect, columns)}) FROM STDIN"
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for values in tuples:
            copy.write_row(values)


def _executemany(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], shared: Mapping[str, Any]
) -> None:
    """One INSERT with qmark parameters, run by the driver for every tuple."""
    dialect = connection.dialect
    columns, tuples = _prepared(table, dialect, rows, shared)
    marks = ", ".join("?" for _ in columns)
    table_name = dialect.identifier_preparer.quote(table.name)
    statement = f"INSERT INTO {table_name} ({_column_list(dialect, columns)}) VALUES ({marks})"  # noqa: S608 - quoted names
    connection.exec_driver_sql(statement, tuples)
