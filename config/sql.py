"""Reading rows of SQL kept from a query compiled once, converted as the ORM converts them.

Django compiles a query again every time it runs; on the hottest reads (the board's
version, the API key of every call) that cost several times what running the SQL does.
Those reads keep their SQL and, for each column they select, the converters the ORM
would apply to it (dates, decimals, booleans on SQLite...), so their values are the
ORM's.
"""

from __future__ import annotations

from django.db import connections, router


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


class KeptRead:
    """A read of whole model rows whose SQL is compiled once per process and database.

    `build(*markers)` returns the queryset with each varying value (an id, a token)
    replaced by a marker; it is called once per database. Each run then only puts the
    values in the markers' places among the parameters and builds the rows as the ORM
    does (`Model.from_db`, the ORM's converters). For plain reads only: no
    select_related, no deferred fields, no annotations.

        live = KeptRead(Order, lambda account: Order.objects.filter(account_id=account))
        live.rows(account.pk)
    """

    MARKER = -7_301_555_020  # the first marker; the next ones count down from it

    def __init__(self, model, build, *, arity: int = 1):
        self.model = model
        self.build = build
        self.markers = [self.MARKER - i for i in range(arity)]
        self.compiled: dict[tuple[str, str], tuple] = {}

    def rows(self, *values) -> list:
        connection = connections[router.db_for_read(self.model)]
        key = (connection.alias, connection.vendor)
        if key not in self.compiled:
            self.compiled[key] = self.compile(connection)
        sql, params, slots, columns, attnames = self.compiled[key]
        params = list(params)
        for i, which in slots:
            params[i] = values[which]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        return [
            self.model.from_db(connection.alias, attnames, converted(row, columns, connection))
            for row in found
        ]

    def compile(self, connection) -> tuple:
        """(SQL, params, [(param index, value index)], columns, the fields' attnames)."""
        compiler = self.build(*self.markers).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        # A marker may come back as itself or as text (a CharField's value).
        where = {str(marker): which for which, marker in enumerate(self.markers)}
        slots = [(i, where[str(p)]) for i, p in enumerate(params) if str(p) in where]
        if sorted({which for _, which in slots}) != list(range(len(self.markers))):
            raise RuntimeError(f"a kept read of {self.model.__name__} lost one of its values")
        columns = [with_converters(connection, column) for column, _, _ in compiler.select]
        attnames = [column.target.attname for column, _ in columns]
        return sql, params, slots, columns, attnames
