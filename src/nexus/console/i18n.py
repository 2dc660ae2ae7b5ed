"""Console text through gettext (Babel): the catalogs in `translations/`, the locale of a
request (its cookie, else the browser's Accept-Language), and a Jinja environment per locale.

English is the source language; French (`fr`) is a machine-made translation of the shell's
and identity pages' strings, proof that the mechanism carries a second language.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations
from starlette.requests import Request

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT_LOCALE = "en"
#: locale → its own name, for the language picker.
LOCALES = {"en": "English", "fr": "Français"}
LOCALE_COOKIE = "nexus_locale"


@cache
def translations(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [locale], domain="messages")


def request_locale(request: Request) -> str:
    """The cookie's choice, else the best Accept-Language match, else English."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in LOCALES:
        return chosen
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if not tag or tag == "*":
            continue
        try:
            language = Locale.parse(tag).language
        except (ValueError, UnknownLocaleError):
            continue
        if language in LOCALES:
            return language
    return DEFAULT_LOCALE
