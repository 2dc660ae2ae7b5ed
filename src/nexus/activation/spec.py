"""The activation spec: the contract a business is described by, once.

The JSON Schema published at `schemas/business-activation-input.json` is generated from these
models. Missing values a person would expect to be derived (currency and timezone from the
country, slug from the name, modules from the industry's preset) are filled by `resolve`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pycountry
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
)

from nexus.activation.industries import Industry
from nexus.activation.presets import ModuleName
from nexus.activation.sections import ModuleSettings, Strict
from nexus.core.money import is_currency
from nexus.identity.service.tenants import RESERVED_SLUGS, SLUG


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _country(code: str) -> str:
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _currency(code: str) -> str:
    if not is_currency(code):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone") from None
    return name


def _slug(slug: str) -> str:
    if len(slug) < 3 or not SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise ValueError("use 3-63 lowercase letters, digits and hyphens, not a reserved word")
    return slug


def _language(tag: str) -> str:
    base = tag.split("-")[0].lower()
    if pycountry.languages.get(alpha_2=base) is None:
        raise ValueError(f"{tag!r} is not a language tag (ISO 639-1, optional region)")
    return tag


def _phone(number: str) -> str:
    """E.164; a number without `+` is read in no country and refused."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise ValueError("give the number in international form, e.g. +2348012345678") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{number!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


CountryCode = Annotated[
    str,
    BeforeValidator(_upper),
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_country),
    Field(description="ISO 3166-1 alpha-2 country code", examples=["NG"]),
]
CurrencyCode = Annotated[
    str,
    BeforeValidator(_upper),
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_currency),
    Field(description="ISO 4217 currency code", examples=["NGN"]),
]
TimeZone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    AfterValidator(_timezone),
    Field(description="IANA time zone", examples=["Africa/Lagos"]),
]
Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=63),
    AfterValidator(_slug),
    Field(description="Lowercase letters, digits and hyphens", examples=["ada-stores"]),
]
LanguageTag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}(-[A-Za-z0-9]{2,8})?$"),
    AfterValidator(_language),
]
PhoneNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=32),
    AfterValidator(_phone),
    Field(description="International phone number, stored as E.164", examples=["+2348012345678"]),
]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


NoNul = AfterValidator(_no_nul)
Text100 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoNul
]
Text200 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
Text300 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), NoNul
]

ENV_REFERENCE = re.compile(r"^env:([A-Z_][A-Z0-9_]{0,127})$")


def _secret(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if raw.startswith("env:") and not ENV_REFERENCE.match(raw):
        raise ValueError("an environment reference is `env:NAME` with NAME in A-Z, 0-9 and _")
    if not raw.strip():
        raise ValueError("a secret cannot be empty")
    return value


Secret = Annotated[
    SecretStr,
    AfterValidator(_secret),
    Field(
        description="The secret itself, or `env:NAME` to read it from the server's environment;"
        " stored encrypted, never echoed",
        examples=["env:PAYSTACK_SECRET_KEY"],
    ),
]


def env_reference(secret: SecretStr) -> str | None:
    """The environment variable a secret refers to, or None for an inline secret."""
    match = ENV_REFERENCE.match(secret.get_secret_value())
    return match.group(1) if match else None


class BusinessSize(StrEnum):
    SOLO = "solo"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    ENTERPRISE = "enterprise"


class Business(Strict):
    """Who the business is."""

    name: Text200 = Field(description="Trading name", examples=["Ada Stores"])
    legal_name: Text300 | None = Field(
        default=None, description="Registered name", examples=["Ada Stores Limited"]
    )
    slug: Slug | None = Field(
        default=None,
        description="Address of the business in NEXUS; derived from the name when left out",
    )
    industry: Industry = Field(description="What the business does; picks the preset")
    description: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), NoNul] | None
    ) = Field(default=None, examples=["Fashion and accessories, online and in two shops"])
    size: BusinessSize | None = Field(
        default=None,
        description="solo (1), small (2-49), medium (50-249), large (250-999), enterprise",
    )


class Owner(Strict):
    """The person who owns the new business and signs in first."""

    name: Text200 = Field(examples=["Ada Obi"])
    email: EmailStr = Field(examples=["ada@example.com"])
    phone: PhoneNumber | None = None
    password: SecretStr | None = Field(
        default=None,
        min_length=12,
        max_length=128,
        description="Optional; without it the owner gets a one-time password-setup link."
        " Refused when the email already belongs to a user",
    )


class Address(Strict):
    line1: Text200 = Field(examples=["12 Allen Avenue"])
    line2: Text200 | None = None
    city: Text100 = Field(examples=["Ikeja"])
    region: Text100 | None = Field(default=None, examples=["Lagos"])
    postal_code: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), NoNul] | None
    ) = None
    country: CountryCode | None = Field(
        default=None, description="Defaults to the business's country"
    )


class Location(Strict):
    """A branch, shop, clinic or office of the business."""

    name: Text100 = Field(examples=["Ikeja shop"])
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")] | None = (
        Field(
            default=None,
            description="Short code; derived from the name when left out",
            examples=["IKJ"],
        )
    )
    address: Address
    phone: PhoneNumber | None = None
    is_headquarters: bool = Field(default=False, description="At most one location")


class Modules(Strict):
    """Which modules to enable, and their settings (override the preset's)."""

    enabled: list[ModuleName] | None = Field(
        default=None,
        description="Modules to enable; the preset's when left out. A module this build does"
        " not have is reported as unavailable, never pretended",
        examples=[["crm", "commerce", "payments"]],
    )
    settings: ModuleSettings = Field(default_factory=ModuleSettings)


class Paystack(Strict):
    secret_key: Secret
    public_key: Text200 | None = Field(default=None, examples=["pk_live_xxx"])


class Flutterwave(Strict):
    secret_key: Secret
    public_key: Text200 | None = None
    encryption_key: Secret | None = None


class Stripe(Strict):
    secret_key: Secret
    webhook_secret: Secret | None = None


class WhatsApp(Strict):
    phone_number_id: Text100 = Field(description="WhatsApp Business phone number id")
    access_token: Secret


class SmsProvider(StrEnum):
    TERMII = "termii"
    AFRICASTALKING = "africastalking"
    TWILIO = "twilio"


class Sms(Strict):
    provider: SmsProvider
    api_key: Secret
    sender_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=16), NoNul] | None
    ) = Field(default=None, examples=["AdaStores"])


class Email(Strict):
    """Outgoing mail by SMTP."""

    host: Text200 = Field(examples=["smtp.example.com"])
    port: int = Field(default=587, ge=1, le=65535)
    username: Text200 | None = None
    password: Secret | None = None
    from_address: EmailStr = Field(examples=["hello@adastores.ng"])


class Integrations(Strict):
    """Credentials for outside services, kept encrypted in the business's integration settings."""

    paystack: Paystack | None = None
    flutterwave: Flutterwave | None = None
    stripe: Stripe | None = None
    whatsapp: WhatsApp | None = None
    sms: Sms | None = None
    email: Email | None = None


class Compliance(Strict):
    """Regimes the business must meet; modules tighten their behaviour accordingly."""

    ndpa: bool = Field(default=False, description="Nigeria Data Protection Act")
    gdpr: bool = Field(default=False, description="EU/UK General Data Protection Regulation")
    hipaa: bool = Field(default=False, description="US health data")
    pci: bool = Field(default=False, description="Card data (PCI DSS)")


class DeploymentMode(StrEnum):
    SHARED = "shared"
    DEDICATED = "dedicated"


class Deployment(Strict):
    mode: DeploymentMode = DeploymentMode.SHARED
    region: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")] | None = Field(
        default=None, examples=["af-west-1"]
    )


EXAMPLE: dict[str, Any] = {
    "business": {"name": "Ada Stores", "industry": "ecommerce"},
    "country": "NG",
    "owner": {"name": "Ada Obi", "email": "ada@example.com", "phone": "+2348012345678"},
    "integrations": {"paystack": {"secret_key": "env:PAYSTACK_SECRET_KEY"}},
}


class ActivationSpec(Strict):
    """A business, described once. Everything not given is derived or taken from the preset."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        title="Business activation input",
        json_schema_extra={"examples": [EXAMPLE]},
    )

    business: Business
    country: CountryCode
    currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217; the country's currency when left out"
    )
    timezone: TimeZone | None = Field(
        default=None, description="IANA time zone; the country's (main) zone when left out"
    )
    languages: list[LanguageTag] = Field(
        default_factory=lambda: ["en"],
        min_length=1,
        max_length=10,
        description="Languages of the business, first is the default (BCP 47: `en`, `fr-CI`)",
        examples=[["en", "yo"]],
    )
    owner: Owner
    locations: list[Location] = Field(default_factory=list, max_length=500)
    modules: Modules = Field(default_factory=Modules)
    integrations: Integrations = Field(default_factory=Integrations)
    compliance: Compliance = Field(default_factory=Compliance)
    deployment: Deployment = Field(default_factory=Deployment)
    seed: bool = Field(default=False, description="Fill the business with sample data")

    @field_validator("locations")
    @classmethod
    def _one_headquarters(cls, locations: list[Location]) -> list[Location]:
        if sum(location.is_headquarters for location in locations) > 1:
            raise ValueError("at most one location is the headquarters")
        return locations
