"""Words that change with a count, chosen by the locale's own plural rule (CLDR, through Babel).

English has two forms, one and other, and "1" is the only one; other languages cut differently
(French says "0 message" in the singular), so the choice is Babel's, never ``n == 1``.
"""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal


def locale_of(tag: str | Locale | None) -> Locale:
    """The Babel locale of a tag such as "en", "fr-FR" or "pt_BR"; English when unknown."""
    if isinstance(tag, Locale):
        return tag
    try:
        return Locale.parse((tag or "en").replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def number(count: int, locale: str | Locale | None = "en") -> str:
    """The count written the locale's way: "1,234" in English, "1 234" in French."""
    return format_decimal(count, locale=locale_of(locale))


def plural(count: int, one: str, other: str, locale: str | Locale | None = "en") -> str:
    """Return ``one`` or ``other`` as the locale's plural rule picks for ``count``, with ``{n}``
    replaced by the count written the locale's way ("1,234")."""
    language = locale_of(locale)
    form = one if language.plural_form(count) == "one" else other
    return form.replace("{n}", number(count, language))


def with_article(noun: str) -> str:
    """ "a consent reason", "an account reason": English's article by the sound of the first
    letter (the app's nouns have no silent h or "you"-sounding u)."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun
