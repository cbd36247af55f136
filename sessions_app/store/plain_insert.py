"""A multi-row INSERT of model instances, written once per model and process: for rows on every request's path.

Values are prepared as `bulk_create` prepares them (each field's `pre_save`, then `get_db_prep_save`), but
the statement skips Django's query compiler. Only for models whose primary key is set before the insert
(a UUID default, say): nothing is read back.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, models


@cache
def _statement(model: type[models.Model]) -> tuple[tuple[models.Field, ...], str, str]:
    meta, quote = model._meta, connection.ops.quote_name
    fields = tuple(meta.concrete_fields)
    columns = ", ".join(quote(field.column) for field in fields)
    return fields, f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ", f"({', '.join(['%s'] * len(fields))})"


def insert(rows: list[models.Model]) -> None:
    """Store `rows` (instances of one model, primary keys set) as `bulk_create` would, in the caller's transaction."""
    if not rows:
        return
    fields, head, row = _statement(type(rows[0]))
    if any(obj.pk is None for obj in rows):
        raise ValueError("plain_insert needs primary keys set before the insert")
    size = max(1, connection.ops.bulk_batch_size(list(fields), rows))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            params = [
                field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in chunk for field in fields
            ]
            cursor.execute(f"{head}{', '.join([row] * len(chunk))}", params)
    for obj in rows:  # as bulk_create leaves them: saved, in this database
        obj._state.adding, obj._state.db = False, connection.alias
