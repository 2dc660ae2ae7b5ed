"""Optimistic concurrency: every updatable record has a `version`; writers must name it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from nexus.core.errors import PreconditionFailed, PreconditionRequired, invalid


class Versioned:
    """Mixin: `version` starts at 1 and the ORM bumps it on every UPDATE, refusing stale ones."""

    version: Mapped[int] = mapped_column(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def parse_if_match(header: str | None) -> int | None:
    """`If-Match: "3"` or `W/"3"` → 3. Absent → None."""
    if header is None:
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise invalid("header.If-Match", 'If-Match must be the record\'s version, e.g. "3"')
    return int(value)


def expected_version(body_version: int | None, if_match: str | None) -> int:
    """The version the caller is updating, from the body or `If-Match` (they must agree)."""
    header_version = parse_if_match(if_match)
    if body_version is not None and header_version is not None and body_version != header_version:
        raise invalid("body.version", "version and If-Match disagree")
    version = body_version if body_version is not None else header_version
    if version is None:
        raise PreconditionRequired(detail="Send the record's version in the body or If-Match")
    return version


def check_version(current: int, expected: int) -> None:
    if current != expected:
        raise PreconditionFailed(
            detail=f"You sent version {expected}; the record is at version {current}",
            extra={"current_version": current},
        )
