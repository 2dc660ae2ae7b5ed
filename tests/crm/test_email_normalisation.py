"""`normalise_email` checks an address's domain once per process; its answers and its errors
are `email_validator`'s own, for every kind of address."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from nexus.core.errors import ValidationFailed
from nexus.crm.service.common import normalise_email

LONG_LABEL = "d" * 63
ADDRESSES = [
    "ada@example.com",
    "Ada.Obi+crm@Example.COM",
    "o'neil@example.ng",
    "a!#$%&'*+/=?^_`{|}~-z@example.com",
    "ada@EXAMPLE.com.",
    "ada@xn--bcher-kva.example",
    "ada@bücher.example",
    "adé@example.com",
    '"ada obi"@example.com',
    "ada..obi@example.com",
    ".ada@example.com",
    "ada.@example.com",
    "ada@localhost",
    "ada@example.test",
    "ada@-example.com",
    "ada@example",
    "ada@123",
    "ada@[192.0.2.1]",
    "ada@@example.com",
    "ada",
    "@example.com",
    "ada@",
    "Ada Obi <ada@example.com>",
    "ada obi@example.com",
    f"{'a' * 64}@example.com",
    f"{'a' * 65}@example.com",
    f"ada@{LONG_LABEL}.{LONG_LABEL}.{LONG_LABEL}.{'d' * 57}.com",
    f"{'a' * 60}@{LONG_LABEL}.{LONG_LABEL}.{LONG_LABEL}.com",
    f"{'a' * 64}@{LONG_LABEL}.{LONG_LABEL}.{LONG_LABEL}.example",
    f"{'a' * 40}@{'ü' * 40}.{LONG_LABEL}.{LONG_LABEL}.com",
    f"ada@{'d' * 64}.com",
]


def _validator_answer(address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        return f"refused: {error}"


def _our_answer(address: str) -> str:
    try:
        normalised = normalise_email(address, field="body.email")
    except ValidationFailed as error:
        return f"refused: {error.errors[0].reason}"
    assert normalised is not None
    return normalised


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_is_normalised_or_refused_as_email_validator_does(address: str) -> None:
    # Twice: the second time the domain's check comes from memory.
    assert _our_answer(address) == _validator_answer(address)
    assert _our_answer(address) == _validator_answer(address)


def test_the_cases_cover_both_answers() -> None:
    answers = [_validator_answer(address) for address in ADDRESSES]
    assert sum(answer.startswith("refused") for answer in answers) >= 15
    assert sum(not answer.startswith("refused") for answer in answers) >= 8
