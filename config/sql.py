"""Reading rows of SQL kept from a query compiled once, converted as the ORM converts them.

Django compiles a query again every time it runs; on the hottest reads (the board's
version, the API key of every call) that cost several times what running the SQL does.
Those reads keep their SQL and, for each column they select, the converters the ORM
would apply to it (dates, decimals, booleans on SQLite...), so their values are the
ORM's.
"""

from __future__ import annotations


def with_converters(connection, column) -> tuple:
    """(column, the converters the ORM applies to its values on `connection`)."""
    return column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)


def converted(row, columns: list[tuple], connection) -> list:
    """`row`'s values through the converters of `columns` (from `with_converters`)."""
    values = []
    for value, (column, converters) in zip(row, columns, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        values.append(value)
    return values
