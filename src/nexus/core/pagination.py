"""Cursor pagination over a sort key and the id, stable under inserts, the same on both engines."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from nexus.core.errors import invalid

T = TypeVar("T")
MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, uuid.UUID | Decimal):
        return {"s": str(value)}
    return value


def _decode_value(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    """The sort value of a cursor, refused (ValueError) unless it has the column's type."""
    python_type = column.type.python_type
    if isinstance(value, dict) and "dt" in value:
        decoded = dt.datetime.fromisoformat(value["dt"])
        if decoded.tzinfo is None:
            raise ValueError("naive datetime in a cursor")
    elif isinstance(value, dict) and "s" in value:
        decoded = python_type(value["s"])
    else:
        decoded = value
    if not isinstance(decoded, python_type) or (
        isinstance(decoded, bool) and python_type is not bool
    ):
        raise ValueError("cursor value does not match the sort column")
    return decoded


def encode_cursor(sort_value: Any, row_id: uuid.UUID) -> str:
    raw = json.dumps([_encode_value(sort_value), str(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: InstrumentedAttribute[Any]) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_value, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return _decode_value(sort_value, sort), uuid.UUID(row_id)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
        raise invalid("query.cursor", "The cursor is not one this API returned") from None


async def paginate(
    session: AsyncSession,
    statement: Select[T],
    *,
    sort: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[Any],
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    descending: bool = False,
) -> Page[T]:
    """One page of `statement`'s entities ordered by `(sort, id)`, and the cursor of the next."""
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        after = (
            or_(sort < value, and_(sort == value, id_column < last_id))
            if descending
            else or_(sort > value, and_(sort == value, id_column > last_id))
        )
        statement = statement.where(after)
    order = (sort.desc(), id_column.desc()) if descending else (sort.asc(), id_column.asc())
    rows = list((await session.scalars(statement.order_by(*order).limit(limit + 1))).all())
    if len(rows) <= limit:
        return Page(rows, None)
    last = rows[limit - 1]
    next_cursor = encode_cursor(getattr(last, sort.key), getattr(last, id_column.key))
    return Page(rows[:limit], next_cursor)
