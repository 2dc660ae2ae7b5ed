"""`with_defaults`: a new row gets its Python-side defaults when it is built, keeping values
given, so it can be described before its INSERT."""

from __future__ import annotations

import datetime as dt
import uuid

from nexus.core.db import with_defaults
from nexus.crm.models import Contact


def test_defaults_are_filled_and_given_values_kept() -> None:
    given = uuid.uuid4()

    row = with_defaults(Contact(id=given, first_name="Ada", tags=["vip"]))
    other = with_defaults(Contact(first_name="Bola"))

    assert row.id == given
    assert row.tags == ["vip"]
    assert row.version == 1
    assert isinstance(row.created_at, dt.datetime) and row.created_at.tzinfo is not None
    assert isinstance(row.updated_at, dt.datetime)
    assert other.tags == [] and other.custom == {}
    assert isinstance(other.id, uuid.UUID) and other.id != given
    assert row.company_id is None and row.email is None
