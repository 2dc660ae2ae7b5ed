"""Keyset pages ordered by a column that may be empty (a deal's expected close, a task's due
time): empty values sort last, through a far-off stand-in the same on both engines."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Date, Select, and_, func, literal, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from nexus.core.errors import invalid
from nexus.core.pagination import Page
from nexus.core.types import UTCDateTime

T = TypeVar("T")
FAR_DATE = dt.date(9999, 12, 31)
FAR_TIME = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
EARLY_DATE = dt.date(1, 1, 1)
EARLY_TIME = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class NullsLast:
    """Order by `column`, empty values after every other (either direction)."""

    column: InstrumentedAttribute[Any]
    descending: bool = False

    @property
    def is_date(self) -> bool:
        return self.column.type.python_type is dt.date

    @property
    def far(self) -> dt.date | dt.datetime:
        """The stand-in for an empty value: after every real one in this direction."""
        if self.descending:
            return EARLY_DATE if self.is_date else EARLY_TIME
        return FAR_DATE if self.is_date else FAR_TIME

    def key(self) -> ColumnElement[Any]:
        kind = Date() if self.is_date else UTCDateTime()
        return func.coalesce(self.column, literal(self.far, kind))

    def value(self, row: Any) -> dt.date | dt.datetime:
        found: dt.date | dt.datetime | None = getattr(row, self.column.key)
        return self.far if found is None else found

    def parse(self, text: str) -> dt.date | dt.datetime:
        if self.is_date:
            return dt.date.fromisoformat(text)
        parsed = dt.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime in a cursor")
        return parsed


def _decode(cursor: str, order: NullsLast) -> tuple[Any, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return order.parse(text), uuid.UUID(row_id)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
        raise invalid("query.cursor", "The cursor is not one this API returned") from None


def _encode(value: dt.date | dt.datetime, row_id: Any) -> str:
    raw = json.dumps([value.isoformat(), str(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def paginate_nulls_last(
    session: AsyncSession,
    statement: Select[T],
    *,
    order: NullsLast,
    id_column: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """One page ordered by `(order, id)`, and the cursor of the next."""
    key = order.key()
    descending = order.descending
    if cursor:
        value, last_id = _decode(cursor, order)
        after = (
            or_(key < value, and_(key == value, id_column < last_id))
            if descending
            else or_(key > value, and_(key == value, id_column > last_id))
        )
        statement = statement.where(after)
    ordering = (key.desc(), id_column.desc()) if descending else (key.asc(), id_column.asc())
    rows = list((await session.scalars(statement.order_by(*ordering).limit(limit + 1))).all())
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    last_id = last.id  # type: ignore[attr-defined]
    return Page(rows[:limit], _encode(order.value(last), last_id))
