"""User-facing text of the pages: Bahasa Indonesia first, English on request.

The text lives in gettext catalogues, one per language: ``translations/<lang>/LC_MESSAGES/messages.po`` is
the source, edited by hand; ``messages.mo`` beside it is what ``make translations`` compiles from it, and
is committed so that every way of installing the package carries it (a test checks it matches the
``.po``). Message ids are symbolic keys such as ``"case.title"``, not English sentences: the Indonesian
text is the original rather than a translation of the English one, and the keys the pages build at run time
(``"state." + state``) stay readable. Code and templates call ``_("key", **params)`` (``gettext``), or
``ngettext("key", count, **params)`` where a count changes the words; inside the catalogues a parameter
is written ``%(name)s`` and the count ``%(count)s``. An id that no catalogue has raises ``KeyError``, so a
typo cannot reach a page silently.

The request's language comes from ``?lang=`` (which also sets a cookie, so the choice sticks), then the
cookie, then Indonesian; Flask-Babel carries it as the request's locale. Dates, times and numbers are
written for a language with Babel's locale data by the ``format_*`` functions, which take the language (and
the zone) as arguments so that e-mails and documents can use them outside a request.
"""

from __future__ import annotations

import gettext as gettext_module
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import flask_babel
from babel import dates, numbers
from babel.support import Translations
from flask import Flask, g, has_request_context, request

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
COOKIE_NAME = "lang"
TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"


# --- the catalogues ------------------------------------------------------------------------------------


class _MissingMessage(gettext_module.NullTranslations):
    """The last fallback of every catalogue: it raises where gettext would answer with the id itself."""

    def gettext(self, message: str) -> str:
        raise KeyError(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        raise KeyError(msgid1)


@cache
def catalogue(language: str) -> Translations:
    """The compiled catalogue of ``language``, read once per process."""
    if language not in LANGUAGES:
        raise KeyError(f"no catalogue for language {language!r}")
    translations = Translations.load(str(TRANSLATIONS_DIR), [language], DOMAIN)
    if not isinstance(translations, Translations):  # Babel answers a missing .mo with a null catalogue
        raise FileNotFoundError(
            f"{TRANSLATIONS_DIR}/{language}/LC_MESSAGES/{DOMAIN}.mo is missing: run `make translations`"
        )
    translations.add_fallback(_MissingMessage())
    return translations


def translate(key: str, language: str, **params: object) -> str:
    """The text for ``key`` in ``language`` with its ``%(name)s`` placeholders filled."""
    return catalogue(language).gettext(key) % params


def translate_plural(key: str, count: int, language: str, **params: object) -> str:
    """The form of ``key`` that ``language`` uses for ``count`` things; ``%(count)s`` is the count."""
    return catalogue(language).ngettext(key, key, count) % {"count": count, **params}


def has_message(key: str, language: str) -> bool:
    try:
        catalogue(language).gettext(key)
    except KeyError:
        return False
    return True


# --- the request's language ----------------------------------------------------------------------------


def choose_language(query: str | None, cookie: str | None) -> str:
    """``?lang=`` wins, then the remembered cookie, then Indonesian."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def _select_language() -> str:
    """Flask-Babel's locale selector, asked once per request."""
    if "language" in g:  # chosen by use_language()
        return g.language
    if has_request_context():
        return choose_language(request.args.get("lang"), request.cookies.get(COOKIE_NAME))
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """The language of this request's pages; Indonesian outside a request."""
    locale = flask_babel.get_locale()
    return DEFAULT_LANGUAGE if locale is None else str(locale)


def use_language(language: str) -> None:
    """Speak ``language`` for the rest of this request (the official documents are in Indonesian)."""
    g.language = language
    flask_babel.refresh()


# Families of ids the pages build from a stored word (``"state." ~ case.state``): a word no catalogue has
# (written by another version, or by hand) is shown as itself rather than failing the page.
STORED_WORDS = (
    "state.",
    "source.",
    "check.",
    "role.",
    "complaints.channel.",
    "complaints.state.",
    "complaints.resolved_by.",
)


def gettext(key: str, **params: object) -> str:
    try:
        return translate(key, current_language(), **params)
    except KeyError:
        family = next((family for family in STORED_WORDS if key.startswith(family)), None)
        if family is None or params:
            raise
        return key.removeprefix(family)


def ngettext(key: str, count: int, **params: object) -> str:
    return translate_plural(key, count, current_language(), **params)


def _switch_language_url(language: str) -> str:
    args = request.args.to_dict()
    args["lang"] = language
    return f"{request.path}?{urlencode(args)}"


def init_app(app: Flask) -> None:
    # Flask-Babel's Jinja extension would install gettext callables with the signature of English-keyed
    # catalogues; the templates use the functions of this module instead.
    flask_babel.Babel(
        app,
        configure_jinja=False,
        locale_selector=_select_language,
        default_locale=DEFAULT_LANGUAGE,
        default_translation_directories=str(TRANSLATIONS_DIR),
        default_domain=DOMAIN,
        default_timezone=app.config.get("BATIKNET_TIMEZONE") or "Asia/Jakarta",
    )

    @app.after_request
    def _remember_language(response):
        if request.args.get("lang") in LANGUAGES:
            response.set_cookie(
                COOKIE_NAME, request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax", httponly=True
            )
        return response

    app.jinja_env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext)
    app.jinja_env.globals.update(current_language=current_language, switch_language_url=_switch_language_url)


# --- WTForms' own messages ------------------------------------------------------------------------------

# WTForms ships no Indonesian; its English messages are mapped onto the catalogue.
WTFORMS_MESSAGES = {
    "This field is required.": "form.required",
    "Not a valid date value.": "form.invalid_date",
    "Not a valid datetime value.": "form.invalid_datetime",
    "Not a valid choice.": "form.invalid_choice",
    "Invalid Choice: could not coerce.": "form.invalid_choice",
    "Invalid choice(s): one or more data inputs could not be coerced.": "form.invalid_choice",
    "'%(value)s' is not a valid choice for this field.": "form.invalid_choice",
    "'%(value)s' are not valid choices for this field.": "form.invalid_choice",
}


class FormTranslations:
    """The translations object WTForms asks its forms for (see ``auth.Form``)."""

    def gettext(self, string: str) -> str:
        key = WTFORMS_MESSAGES.get(string)
        return gettext(key) if key else string

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


# --- dates, times and numbers for people ---------------------------------------------------------------

# How a government office writes a moment: the long date, the time with a period as EYD has it (11.00), and
# the zone's own abbreviation (WIB). English keeps the day before the month and the abbreviation too: it is
# what the reader's clock is called.
_INSTANT_PATTERNS = {"id": "d MMMM y 'pukul' HH.mm", "en": "d MMMM y, HH:mm"}
_SHORT_INSTANT_PATTERNS = {"id": "d MMM y HH.mm", "en": "d MMM y, HH:mm"}
_TIME_PATTERNS = {"id": "HH.mm", "en": "HH:mm"}
_DATE_PATTERN = "d MMMM y"


def _local(instant: datetime, zone: tzinfo) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"{instant!r} has no zone: an instant for people must be aware")
    return instant.astimezone(zone)


def _with_zone(pattern: str, instant: datetime, language: str, zone: tzinfo) -> str:
    local = _local(instant, zone)
    return f"{dates.format_datetime(local, pattern, tzinfo=zone, locale=language)} {local.tzname()}"


def format_instant(instant: datetime, language: str, zone: tzinfo) -> str:
    """``27 November 2026 pukul 11.00 WIB`` / ``27 November 2026, 11:00 WIB``: documents, e-mails."""
    return _with_zone(_INSTANT_PATTERNS[language], instant, language, zone)


def format_instant_short(instant: datetime, language: str, zone: tzinfo) -> str:
    """``27 Nov 2026 11.00 WIB`` / ``27 Nov 2026, 11:00 WIB``: tables and narrow screens."""
    return _with_zone(_SHORT_INSTANT_PATTERNS[language], instant, language, zone)


def format_time(instant: datetime, language: str, zone: tzinfo) -> str:
    """``11.00 WIB`` / ``11:00 WIB``."""
    return _with_zone(_TIME_PATTERNS[language], instant, language, zone)


def format_date(day: date, language: str) -> str:
    """``27 November 2026``, the month named in ``language`` (Desember / December)."""
    return dates.format_date(day, _DATE_PATTERN, locale=language)


def format_decimal(value: float, language: str, digits: int = 1) -> str:
    """``1.234,5`` in Indonesian, ``1,234.5`` in English, with exactly ``digits`` decimals."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return numbers.format_decimal(value, pattern, locale=language)


def format_percent(share: float, language: str) -> str:
    """``85%`` for a share of 0.85, in the language's own way of writing a percentage."""
    return numbers.format_percent(share, locale=language)
