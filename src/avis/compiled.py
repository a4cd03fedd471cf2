"""A query of a hot path, turned into SQL once per process and run with a new value each time.

Django builds a queryset's SQL anew at every evaluation. For the respondent's page's one read (an
invitation with four related rows by ``select_related``) building it took more Python than all the
rest of the page (``docs/architecture.md``, the respondent's submit path). ``CompiledQuery`` builds
the queryset once with a stand-in value, keeps its SQL, and on each call runs that SQL with the
real value and makes the model instances from the rows as Django's own ``ModelIterable`` does:
the same converters, ``from_db``, and the related rows put in place by Django's populators.

Only for a queryset whose one parameter is the value (checked when it is compiled), with no
annotations nor prefetching.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

STAND_IN = "avis-compiled-stand-in"


class CompiledQuery:
    def __init__(self, build: Callable[[str], QuerySet]) -> None:
        self.build = build
        self._plan: tuple[Any, ...] | None = None

    def _compiled(self) -> tuple[Any, ...]:
        queryset = self.build(STAND_IN)
        alias = queryset.db
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        if list(params) != [STAND_IN] or compiler.annotation_col_map:
            raise ValueError("CompiledQuery: the queryset must have one parameter, the value")
        info, select = compiler.klass_info, compiler.select
        start, end = info["select_fields"][0], info["select_fields"][-1] + 1
        names = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(info, select, alias)
        # The columns' converters, found once: Django's results_iter looks them up for every row set,
        # which was a third of the read's Python (48 columns).
        columns = [column[0] for column in select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("CompiledQuery: no composite fields")
        converters = list(compiler.get_converters(columns).items())
        return (alias, sql, converters, info["model"], start, end, names, populators)

    def __call__(self, value: str) -> list[Model]:
        if self._plan is None:
            self._plan = self._compiled()
        alias, sql, converters, model, start, end, names, populators = self._plan
        connection = connections[alias]
        with prepared_cursor(connection) as cursor:
            cursor.execute(sql, [value])
            rows = cursor.fetchall()
        found = []
        for fetched in rows:
            row = list(fetched)
            for position, (functions, expression) in converters:  # as the compiler's apply_converters
                converted = row[position]
                for convert in functions:
                    converted = convert(converted, expression, connection)
                row[position] = converted
            instance = model.from_db(alias, names, row[start:end])
            for populator in populators:
                populator.populate(row, instance)
            found.append(instance)
        return found


def keep_long_statements_parsed() -> None:
    """Let psycopg keep its parse of our longest statements too.

    psycopg turns each statement's ``%s`` into the server's form once and keeps it (an LRU of 128),
    but only for statements of at most 4,096 characters and 50 parameters; longer ones are split
    with a regular expression at every execution. The respondent's hot statements are longer (the
    invitation's read names 48 columns; the answer's claim-and-store takes 12 + 13 per answer
    values): their splitting was 5 % of a respondent's Python under load. The limits are module
    constants of psycopg (3.1–3.3), read at each execution; unknown to another version, nothing
    changes.
    """
    try:
        from psycopg import _queries
    except ImportError:  # no PostgreSQL driver: nothing to tune
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH") and hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 16384)
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 200)


def prepared_cursor(connection: Any) -> Any:
    """A cursor for a hot statement: on PostgreSQL parsed and planned once per connection
    (``avis/postgresql/base.py``), elsewhere Django's own."""
    make = getattr(connection, "prepared_cursor", None)
    return make() if make is not None else connection.cursor()


def cast_type(field: Any, connection: Any) -> str:
    """The column's type, for a cast of a value bound to it in a hand-written statement. Without a
    ``varchar``'s length: a cast to ``varchar(n)`` cuts a longer text silently, where the column
    refuses it as a plain ``INSERT`` does."""
    return re.sub(r"^varchar\(\d+\)$", "varchar", field.db_type(connection) or "")


_PLAIN = frozenset({int, str, bool, type(None)})


def bound_value(field: Any, value: Any, connection: Any) -> Any:
    """The value as the database driver takes it for ``field``'s column in a hand-written
    statement: a plain one as it is (what the field's own preparation returns for it, at a tenth
    of the cost), anything else through the field."""
    if type(value) in _PLAIN or (type(value) is datetime and value.tzinfo is not None):
        return value
    return field.get_db_prep_save(value, connection)


def typed_params(fields: Sequence[Any], connection: Any) -> str:
    """``%s::type, …``: one parameter per field, cast to its column's type (``cast_type``)."""
    return ", ".join(f"%s::{cast_type(field, connection)}" for field in fields)


def column_names(fields: Sequence[Any], connection: Any) -> str:
    return ", ".join(connection.ops.quote_name(field.column) for field in fields)
