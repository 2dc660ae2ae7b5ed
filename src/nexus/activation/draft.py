"""A draft activation spec from one sentence, and the list of what it could not decide.

`draft_from_prompt` reads the sentence by deterministic rules: the industry from words and
synonyms (the longest phrase wins where phrases overlap, else the first named), the country and
city from the gazetteer (`gazetteer.py`), branches from counts ("3 branches", "two shops"),
integrations from keywords (secrets as `env:NAME` references, never values), the owner's email and
phone by pattern and their name from "I am X", the business's name from quotes or "called X".
The draft holds only what was decided, shaped like `ActivationSpec` input: once every field in
`undecided` is filled, it passes `parse_spec`. Currency and time zone are left for `resolve`.

The seam for other drafters (an LLM-backed one from the AI module): a module registers an object
with `async def draft(prompt: str) -> Draft` under the hook name `"activation_drafter"`
(`registry.provide("activation_drafter", drafter)`); `get_drafter()` returns it, or the rules
drafter when none is registered. Another drafter returns the same `Draft` shape, names itself in
`drafter`, and may call `draft_from_prompt` as its fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import phonenumbers
from pydantic import BaseModel, Field

from nexus.activation import gazetteer
from nexus.activation.gazetteer import City
from nexus.activation.industries import Industry
from nexus.activation.resolve import currency_of, timezone_of
from nexus.activation.vocabulary import BUSINESS_NAME_WORDS, INDUSTRY_WORDS, NUMBER_WORDS
from nexus.core.registry import registry

MAX_PROMPT_CHARS = 2000
DRAFTER_HOOK = "activation_drafter"
#: Branch counts above this are left to the person rather than listed one by one.
MAX_DRAFTED_LOCATIONS = 50


class Undecided(BaseModel):
    field: str = Field(description="JSON path of the field in the spec", examples=["owner.email"])
    reason: str = Field(description="Why the drafter could not decide it")


class Draft(BaseModel):
    """A partial activation spec: fill every `undecided` field and it is a valid spec."""

    spec: dict[str, Any] = Field(description="What was decided, shaped like the activation input")
    undecided: list[Undecided] = Field(default_factory=list)
    notes: list[str] = Field(
        default_factory=list, description="What was inferred, and from which words"
    )
    drafter: str = Field(default="rules", description="Which drafter made the draft")


class Drafter(Protocol):
    async def draft(self, prompt: str) -> Draft: ...


class RulesDrafter:
    """The deterministic drafter: `draft_from_prompt`."""

    async def draft(self, prompt: str) -> Draft:
        return draft_from_prompt(prompt)


RULES_DRAFTER = RulesDrafter()


def get_drafter() -> Drafter:
    """The drafter registered under `"activation_drafter"`, else the rules drafter."""
    implementation = registry.hooks.get(DRAFTER_HOOK)
    return cast(Drafter, implementation) if implementation is not None else RULES_DRAFTER


BRANCH_COUNT = re.compile(
    rf"(?<![\w-])(\d{{1,4}}|{'|'.join(NUMBER_WORDS)})\s+(?:[a-z-]+\s+)?"
    r"(?:branch(?:es)?|shops?|outlets?|stores?|locations?|offices?|sites?|clinics?|pharmacies"
    r"|pharmacy|restaurants?|campus(?:es)?|salons?|hotels?|schools?|warehouses?|centres?"
    r"|centers?|bakeries|bakery|gyms?)(?![\w-])",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# \u2018 \u2019 \u201c \u201d: the curly quotes of phones and word processors.
NAME_WORD = r"[A-Z0-9][\w'\u2019&.-]*"
OWNER_NAME = re.compile(
    r"(?<![\w])(?i:my name is|i am|i'm|i\u2019m)\s+"
    r"([A-Z][\w'\u2019-]*(?:\s+[A-Z][\w'\u2019-]*){0,3})"
)
QUOTED_NAME = re.compile(
    r"[\"\u201c]([^\"\u201c\u201d]{1,200})[\"\u201d]"
    r"|(?<![\w])[\u2018']([^\u2018\u2019']{1,200})[\u2019'](?![\w])"
)
CALLED_NAME = re.compile(
    rf"(?<![\w])(?i:called|named)\s+({NAME_WORD}(?:\s+(?:&|and|of|{NAME_WORD})){{0,5}})"
)


def _words(phrase: str, plural: bool = False) -> re.Pattern[str]:
    """A phrase as whole words, any spacing, any case; with `plural`, its plural too."""
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    if plural:
        body = f"(?:{body}|{_plural_of(body)})"
    return re.compile(rf"(?<![\w-]){body}(?![\w-])", re.IGNORECASE)


def _plural_of(body: str) -> str:
    if re.search(r"[^aeiou]y$", body):
        return body[:-1] + "ies"
    return body + ("es" if re.search(r"(s|sh|ch|x)$", body) else "s")


INDUSTRY_PATTERNS = [
    (phrase, industry, _words(phrase, plural=True))
    for industry, phrases in INDUSTRY_WORDS.items()
    for phrase in phrases
]
CITY_PATTERNS = [
    (name, gazetteer.CITIES[gazetteer.CITY_ALIASES.get(name, name)], _words(name))
    for name in [*gazetteer.CITIES, *gazetteer.CITY_ALIASES]
]
COUNTRY_PATTERNS = [(word, code, _words(word)) for word, code in gazetteer.COUNTRY_WORDS.items()]
COUNTRY_PATTERNS += [
    (word, code, re.compile(rf"(?<![\w.-]){re.escape(word)}(?![\w-])"))
    for word, code in gazetteer.COUNTRY_ABBREVIATIONS.items()
]
DEMONYM_PATTERNS = [(word, code, _words(word)) for word, code in gazetteer.DEMONYMS.items()]


@dataclass(frozen=True)
class _Match:
    phrase: str
    value: Any
    start: int
    end: int
    text: str


def _find_all(text: str, patterns: list[tuple[str, Any, re.Pattern[str]]]) -> list[_Match]:
    """Every match in the order of the sentence; where matches overlap, the longest phrase."""
    found = [
        _Match(phrase, value, m.start(), m.end(), m.group(0))
        for phrase, value, pattern in patterns
        for m in pattern.finditer(text)
    ]
    found.sort(key=lambda match: (-(match.end - match.start), match.start))
    kept: list[_Match] = []
    for match in found:
        if all(match.end <= other.start or match.start >= other.end for other in kept):
            kept.append(match)
    return sorted(kept, key=lambda match: match.start)


@dataclass
class _Work:
    spec: dict[str, Any] = field(default_factory=dict)
    undecided: list[Undecided] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def decide(self, path: str, value: Any, note: str | None = None) -> None:
        *parents, last = path.split(".")
        node = self.spec
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        if note:
            self.notes.append(note)

    def leave(self, path: str, reason: str) -> None:
        self.undecided.append(Undecided(field=path, reason=reason))


@dataclass(frozen=True)
class _Place:
    country: str | None
    cities: list[City]


def draft_from_prompt(prompt: str) -> Draft:
    """The draft of a sentence; never fails on what it cannot read (that goes to `undecided`).

    Raises ValueError when the prompt is longer than `MAX_PROMPT_CHARS`.
    """
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(
            f"the prompt is {len(prompt)} characters long; at most {MAX_PROMPT_CHARS} are read"
        )
    text = " ".join(prompt.split())
    work = _Work()
    industry = _draft_industry(text, work)
    place = _draft_place(text, work)
    _draft_name(text, industry, place, work)
    _draft_owner(text, place.country, work)
    _draft_locations(text, place, work)
    _draft_integrations(text, work)
    return Draft(spec=work.spec, undecided=work.undecided, notes=work.notes, drafter="rules")


def _draft_industry(text: str, work: _Work) -> Industry | None:
    found = _find_all(text, INDUSTRY_PATTERNS)
    if not found:
        work.leave("business.industry", "no word in the sentence names what the business does")
        return None
    first = found[0]
    industry = cast(Industry, first.value)
    work.decide(
        "business.industry",
        industry.value,
        f'industry "{industry.value}" from the word "{first.text}"',
    )
    others = sorted({m.value.value for m in found[1:] if m.value != industry})
    if others:
        work.notes.append(f"also mentioned, not used: {', '.join(others)}")
    return industry


def _draft_place(text: str, work: _Work) -> _Place:
    """The country from its name, else the first city, else a demonym; cities elsewhere dropped."""
    cities = [cast(City, m.value) for m in _find_all(text, CITY_PATTERNS)]
    cities = list(dict.fromkeys(cities))
    named = _find_all(text, COUNTRY_PATTERNS)
    demonyms = _find_all(text, DEMONYM_PATTERNS)
    if named:
        country, source = cast(str, named[0].value), f'the words "{named[0].text}"'
    elif cities:
        country, source = cities[0].country, f'the city "{cities[0].name}"'
    elif demonyms:
        country, source = cast(str, demonyms[0].value), f'the word "{demonyms[0].text}"'
    else:
        work.leave("country", "the sentence names no city or country the drafter knows")
        return _Place(None, [])
    work.decide("country", country, f'country "{country}" from {source}')
    _note_derived(country, work)
    _draft_currency(text, work)
    elsewhere = [city.name for city in cities if city.country != country]
    if elsewhere:
        work.notes.append(f"not in {country}, so not used: {', '.join(elsewhere)}")
    return _Place(country, [city for city in cities if city.country == country])


def _note_derived(country: str, work: _Work) -> None:
    currency, timezone = currency_of(country), timezone_of(country)
    if currency and timezone:
        work.notes.append(
            f"currency {currency} and time zone {timezone} follow from the country when activated"
        )


def _draft_currency(text: str, work: _Work) -> None:
    for word, code in gazetteer.CURRENCY_WORDS.items():
        if match := _words(word).search(text):
            work.decide("currency", code, f'currency "{code}" from the word "{match.group(0)}"')
            return
    for code in gazetteer.CURRENCY_CODES:
        if re.search(rf"(?<![\w]){code}(?![\w])", text):
            work.decide("currency", code, f'currency "{code}" from the code "{code}"')
            return


def _draft_name(text: str, industry: Industry | None, place: _Place, work: _Work) -> None:
    if quoted := QUOTED_NAME.search(text):
        name = (quoted.group(1) or quoted.group(2)).strip()
        if name:
            work.decide("business.name", name, f'business name "{name}" from the quotes')
            return
    if called := CALLED_NAME.search(text):
        name = re.sub(r"(?:\s+(?:&|and|of))+$", "", called.group(1)).rstrip(".,;:!?")
        work.decide("business.name", name, f'business name "{name}" from "{called.group(0)}"')
        return
    where = place.cities[0].name if place.cities else None
    if where is None and place.country:
        where = gazetteer.COUNTRY_NAMES.get(place.country)
    if industry is None or where is None:
        work.leave("business.name", 'no name was given (in quotes, or after "called")')
        return
    label = BUSINESS_NAME_WORDS.get(industry, industry.value.replace("_", " ").title())
    name = f"{where} {label}"
    work.decide("business.name", name, f'business name "{name}" made up from place and industry')
    work.leave("business.name", f'"{name}" was made up from the place and the industry; confirm')


def _draft_owner(text: str, country: str | None, work: _Work) -> None:
    if name := _owner_name(text):
        work.decide("owner.name", name, f'owner name "{name}" from the sentence')
    else:
        work.leave("owner.name", 'no "my name is ..." or "I am ..." in the sentence')
    emails = EMAIL.findall(text)
    if emails:
        work.decide("owner.email", emails[0], f'owner email "{emails[0]}" from the sentence')
    else:
        work.leave("owner.email", "the sentence has no email address; the owner signs in with it")
    if phone := _phone(EMAIL.sub(" ", text), country):
        work.decide("owner.phone", phone, f'owner phone "{phone}" from the sentence')


def _owner_name(text: str) -> str | None:
    for match in OWNER_NAME.finditer(text):
        words = match.group(1).split()
        places = {*gazetteer.CITIES, *gazetteer.COUNTRY_WORDS, *gazetteer.DEMONYMS}
        while words and words[-1].lower().rstrip(".,;:!?") in places:
            words.pop()
        if words and words[0].lower() not in places:
            return " ".join(words).rstrip(".,;:!?")
    return None


def _phone(text: str, country: str | None) -> str | None:
    for match in phonenumbers.PhoneNumberMatcher(text, country):
        return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _draft_locations(text: str, place: _Place, work: _Work) -> None:
    """`n` branches in the first city named, or one branch per city when no count is given."""
    count_match = BRANCH_COUNT.search(text)
    count = _count(count_match.group(1)) if count_match else 0
    if count > MAX_DRAFTED_LOCATIONS:
        work.leave("locations", f"{count} branches are more than a draft lists; add them")
        return
    if count_match and count:
        cities = [place.cities[0] if place.cities else None] * count
        work.notes.append(f'{count} location(s) from "{count_match.group(0)}"')
    else:
        cities = list(place.cities)
    for city in dict.fromkeys(city for city in cities if city):
        work.notes.append(f'city "{city.name}" ({city.region}, {city.country}) from the sentence')
    names = _location_names(cities)
    work.spec["locations"] = [
        _location(index, name, city, place.country, work)
        for index, (name, city) in enumerate(zip(names, cities, strict=True))
    ]
    if not cities:
        del work.spec["locations"]


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word.lower()]


def _location_names(cities: list[City | None]) -> list[str]:
    if len(cities) == 1:
        return [f"{cities[0].name} branch" if cities[0] else "Main branch"]
    if len(set(cities)) == len(cities):
        return [f"{city.name} branch" if city else "Branch" for city in cities]
    return [
        f"{city.name} branch {i}" if city else f"Branch {i}" for i, city in enumerate(cities, 1)
    ]


def _location(
    index: int, name: str, city: City | None, country: str | None, work: _Work
) -> dict[str, Any]:
    address: dict[str, Any] = {}
    if city is not None:
        address |= {"city": city.name, "region": city.region}
    else:
        work.leave(f"locations.{index}.address.city", "the sentence names no city for this branch")
    if country:
        address["country"] = country
    work.leave(f"locations.{index}.address.line1", f"the street address of {name} is not known")
    return {"name": name, "address": address}


@dataclass(frozen=True)
class _Integration:
    key: str
    words: tuple[str, ...]
    fields: dict[str, str]
    undecided: tuple[tuple[str, str], ...] = ()


INTEGRATIONS = (
    _Integration("paystack", ("paystack",), {"secret_key": "env:PAYSTACK_SECRET_KEY"}),
    _Integration("flutterwave", ("flutterwave",), {"secret_key": "env:FLUTTERWAVE_SECRET_KEY"}),
    _Integration("stripe", ("stripe",), {"secret_key": "env:STRIPE_SECRET_KEY"}),
    _Integration(
        "whatsapp",
        ("whatsapp", "whats app"),
        {"access_token": "env:WHATSAPP_ACCESS_TOKEN"},
        (("phone_number_id", "the WhatsApp Business phone number id is not known"),),
    ),
)
SMS_PROVIDERS = {
    "termii": "termii",
    "africa's talking": "africastalking",
    "africastalking": "africastalking",
    "twilio": "twilio",
}
SMS_WORDS = ("sms", "text message", "bulk sms")
EMAIL_WORD = re.compile(r"(?<![\w@.-])(?:smtp|e-?mails?)(?![\w@-])", re.IGNORECASE)
OWNER_EMAIL_CONTEXT = re.compile(r"\s*(?:is\b|:|address\b|at\b|me\b)|[^.;]{0,25}@", re.IGNORECASE)


def _draft_integrations(text: str, work: _Work) -> None:
    for integration in INTEGRATIONS:
        if match := _first_word(text, integration.words):
            _add_integration(integration, match, work)
    _draft_sms(text, work)
    if match := _email_integration_word(text):
        email = _Integration(
            "email",
            (),
            {"password": "env:SMTP_PASSWORD"},
            (
                ("host", "the SMTP server is not known"),
                ("from_address", "the address mail is sent from is not known"),
            ),
        )
        _add_integration(email, match, work)


def _first_word(text: str, words: tuple[str, ...]) -> str | None:
    found = [m for m in (_words(word).search(text) for word in words) if m]
    return min(found, key=lambda m: m.start()).group(0) if found else None


def _add_integration(integration: _Integration, word: str, work: _Work) -> None:
    for name, value in integration.fields.items():
        work.decide(f"integrations.{integration.key}.{name}", value)
    variables = [
        v.removeprefix("env:") for v in integration.fields.values() if v.startswith("env:")
    ]
    work.notes.append(
        f'integration "{integration.key}" from the word "{word}": set {", ".join(variables)}'
        " in the server's environment before activating"
    )
    for name, reason in integration.undecided:
        work.leave(f"integrations.{integration.key}.{name}", reason)


def _draft_sms(text: str, work: _Work) -> None:
    provider_word = _first_word(text, tuple(SMS_PROVIDERS))
    word = provider_word or _first_word(text, SMS_WORDS)
    if word is None:
        return
    provider = SMS_PROVIDERS.get(provider_word.lower()) if provider_word else None
    variable = f"env:{provider.upper()}_API_KEY" if provider else "env:SMS_API_KEY"
    undecided = () if provider else (("provider", "termii, africastalking or twilio?"),)
    fields = {"provider": provider, "api_key": variable} if provider else {"api_key": variable}
    _add_integration(_Integration("sms", (), fields, undecided), word, work)


def _email_integration_word(text: str) -> str | None:
    """ "email" as a service the business uses, not the owner's address ("my email is ...")."""
    for match in EMAIL_WORD.finditer(text):
        before = text[max(0, match.start() - 3) : match.start()].lower()
        if match.group(0).lower() == "smtp":
            return match.group(0)
        if before != "my " and not OWNER_EMAIL_CONTEXT.match(text, match.end()):
            return match.group(0)
    return None
