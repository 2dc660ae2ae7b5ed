from __future__ import annotations

from decimal import Decimal

import pytest

from nexus.core.money import CurrencyMismatch, Money, is_currency, minor_unit_exponent


@pytest.mark.parametrize("code", ["NGN", "USD", "JPY", "KWD", "EUR"])
def test_current_iso_4217_codes_are_currencies(code: str) -> None:
    assert is_currency(code) is True


@pytest.mark.parametrize("code", ["ngn", "XYZ", "NG", "NGNN", ""])
def test_other_codes_are_not_currencies(code: str) -> None:
    assert is_currency(code) is False


def test_money_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(100, "XYZ")


def test_money_refuses_a_float_amount() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "NGN")  # type: ignore[arg-type]


@pytest.mark.parametrize(("currency", "digits"), [("NGN", 2), ("JPY", 0), ("KWD", 3)])
def test_minor_units_follow_the_currency(currency: str, digits: int) -> None:
    assert minor_unit_exponent(currency) == digits


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("1234.56", "NGN", 123456), ("1500", "JPY", 1500), ("12.345", "KWD", 12345)],
)
def test_from_decimal_converts_exactly(amount: str, currency: str, minor: int) -> None:
    money = Money.from_decimal(Decimal(amount), currency)

    assert money == Money(minor, currency)
    assert money.to_decimal() == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "currency"), [("1234.567", "NGN"), ("15.5", "JPY"), ("1.2345", "KWD")]
)
def test_from_decimal_refuses_precision_the_currency_lacks(amount: str, currency: str) -> None:
    with pytest.raises(ValueError, match="more precision"):
        Money.from_decimal(Decimal(amount), currency)


def test_allocate_loses_no_minor_unit() -> None:
    parts = Money(10000, "NGN").allocate([1, 1, 1])

    assert parts == [Money(3334, "NGN"), Money(3333, "NGN"), Money(3333, "NGN")]
    assert sum(p.amount_minor for p in parts) == 10000


def test_allocate_follows_the_ratios() -> None:
    parts = Money(1001, "JPY").allocate([70, 20, 10])

    assert parts == [Money(701, "JPY"), Money(200, "JPY"), Money(100, "JPY")]


def test_allocate_refuses_all_zero_ratios() -> None:
    with pytest.raises(ValueError, match="ratios"):
        Money(100, "NGN").allocate([0, 0])


def test_adding_the_same_currency_adds_minor_units() -> None:
    assert Money(150, "NGN") + Money(275, "NGN") == Money(425, "NGN")
    assert Money(150, "NGN") - Money(275, "NGN") == Money(-125, "NGN")


def test_combining_different_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(100, "NGN") + Money(100, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(100, "NGN") - Money(100, "USD")
