"""Money: integer minor units and an ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

import pycountry
from babel.numbers import format_currency, get_currency_precision


@lru_cache(maxsize=512)
def is_currency(code: str) -> bool:
    """True for a current ISO 4217 code (`NGN`, `USD`); case-sensitive, three letters."""
    return len(code) == 3 and code.isupper() and pycountry.currencies.get(alpha_3=code) is not None


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point: NGN 2, JPY 0, KWD 3."""
    return int(get_currency_precision(currency))


class CurrencyMismatch(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor must be an int")
        if not is_currency(self.currency):
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal | str, currency: str) -> Money:
        """Exact conversion; refuses amounts finer than the currency's minor unit."""
        scaled = Decimal(amount).scaleb(minor_unit_exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more precision than {currency} allows")
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-minor_unit_exponent(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def allocate(self, ratios: list[int]) -> list[Money]:
        """Split without losing a minor unit; remainders go to the first parts."""
        total = sum(ratios)
        if total <= 0 or any(r < 0 for r in ratios):
            raise ValueError("ratios must be non-negative and not all zero")
        shares = [self.amount_minor * r // total for r in ratios]
        for index in range(self.amount_minor - sum(shares)):
            shares[index % len(shares)] += 1
        return [Money(share, self.currency) for share in shares]

    def format(self, locale: str = "en_NG") -> str:
        return str(format_currency(self.to_decimal(), self.currency, locale=locale))
