"""The message catalogues: both languages complete and alike, compiled as committed, every id used exists;
the request's language; dates, times and numbers written for people."""

from __future__ import annotations

import io
import re
import string
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from alert_webhook import i18n
from alert_webhook.core import refusals
from alert_webhook.core.service_level import Standing
from alert_webhook.core.workflow import USER_ROLES, CaseSource, CaseState, Check, CheckResult, EventKind

CHECK_RESULTS, CHECKS, ROLES, SOURCES, STATES = (
    tuple(CheckResult),
    tuple(Check),
    USER_ROLES,
    tuple(CaseSource),
    tuple(CaseState),
)

REPO = Path(__file__).resolve().parents[2]
DYNAMIC_FAMILIES = {
    "state": STATES,
    "source": SOURCES,
    "check": (*CHECKS, *CHECK_RESULTS),
    "role": ROLES,
    "service": tuple(Standing),
}
# The keywords of `make messages`: ngettext takes one id (singular and plural alike) and a count.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 1)}
PLURAL_FORMS = {"id": (1, "0"), "en": (2, "(n != 1)")}
SYMBOLIC_ID = re.compile(r"[a-z_]+(\.[a-z_0-9]+)+")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
JAKARTA = ZoneInfo("Asia/Jakarta")


def po_path(language: str) -> Path:
    return i18n.TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def read_catalogue(language: str):
    with po_path(language).open("rb") as source:
        return read_po(source)


def entries(language: str) -> dict[str, tuple[str, ...]]:
    """Each id of a language's ``.po`` with its text, or its texts for a plural entry."""
    return {
        message.id if isinstance(message.id, str) else message.id[0]: (
            tuple(message.string) if message.pluralizable else (message.string,)
        )
        for message in read_catalogue(language)
        if message.id
    }


def plural_ids(language: str) -> set[str]:
    return {m.id[0] for m in read_catalogue(language) if m.id and m.pluralizable}


def placeholders(texts: tuple[str, ...]) -> set[str]:
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def used_ids() -> dict[str, bool]:
    """Every id the code and templates name literally, as `make messages` extracts it: id -> plural?"""
    with (REPO / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str, bool] = {}
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        REPO, method_map, options_map, keywords=KEYWORDS
    ):
        plural = isinstance(message, tuple)
        found[message[0] if plural else message] = plural
    return found


# --- the catalogues ------------------------------------------------------------------------------------


def test_both_languages_list_the_same_ids_in_the_same_sorted_order():
    indonesian, english = list(entries("id")), list(entries("en"))
    assert sorted(set(indonesian) - set(english)) == [], "missing in English"
    assert sorted(set(english) - set(indonesian)) == [], "missing in Bahasa Indonesia"
    assert indonesian == sorted(indonesian) and english == sorted(english)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_no_fuzzy_empty_or_obsolete_entry(language):
    catalogue = read_catalogue(language)
    assert [m.id for m in catalogue if m.id and m.fuzzy] == []
    assert [key for key, texts in entries(language).items() if not all(t.strip() for t in texts)] == []
    assert list(catalogue.obsolete) == []


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_plural_forms_are_the_languages_own(language):
    """Indonesian has one form for every count, English two."""
    count, rule = PLURAL_FORMS[language]
    catalogue = read_catalogue(language)
    assert (catalogue.num_plurals, catalogue.plural_expr) == (count, rule)
    assert all(len(entries(language)[key]) == count for key in plural_ids(language))
    assert plural_ids("id") == plural_ids("en")


def test_placeholders_match_between_languages():
    indonesian, english = entries("id"), entries("en")
    mismatched = {
        key: (placeholders(texts), placeholders(english[key]))
        for key, texts in indonesian.items()
        if placeholders(texts) != placeholders(english[key])
    }
    assert mismatched == {}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_text_formats_with_its_own_placeholders(language):
    """No stray ``%`` and no ``{name}`` left over from the old catalogue: each text formats cleanly."""
    for key, texts in entries(language).items():
        for text in texts:
            assert "{" not in text, key
            text % {name: "x" for name in PLACEHOLDER.findall(text)}  # raises on a malformed placeholder


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_committed_mo_is_what_compiling_the_po_gives(language):
    """The .mo files are committed (every way of installing carries them); `make translations` writes
    them. Compared message by message: the header names the Babel version that compiled it."""
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(language))
    compiled.seek(0)
    committed_path = po_path(language).with_suffix(".mo")
    with committed_path.open("rb") as committed_file:
        committed = read_mo(committed_file)
    fresh = read_mo(compiled)

    def messages(catalogue):
        return {m.id if isinstance(m.id, str) else tuple(m.id): m.string for m in catalogue if m.id}

    assert messages(committed) == messages(fresh), f"{committed_path} is stale: run `make translations`"
    assert committed.plural_forms == fresh.plural_forms


# The style of the Indonesian text (docs/tracker.md, "Text and translations"): words a government office
# does not write, or that read as a translation, and the one word for e-mail (KBBI's pos-el).
RETIRED_INDONESIAN = re.compile(
    r"sasaran|kambuh|padam|eskalasi|monitoring|e-?mail|surel|percobaan", re.IGNORECASE
)


def test_the_indonesian_text_keeps_to_the_style():
    texts = {key: PLACEHOLDER.sub("", " ".join(forms)) for key, forms in entries("id").items()}
    assert {key: text for key, text in texts.items() if RETIRED_INDONESIAN.search(text)} == {}
    # EYD writes a time with a period (11.00), never a colon.
    assert {key: text for key, text in texts.items() if re.search(r"\d:\d\d", text)} == {}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_no_guillemets(language):
    """Neither language quotes with «…»: Indonesian and English both use “…”."""
    assert {key: t for key, t in entries(language).items() if re.search("[«»]", " ".join(t))} == {}


# --- every id the code uses exists ---------------------------------------------------------------------


def test_every_id_used_in_code_and_templates_exists_in_both_catalogues():
    used = used_ids()
    assert len(used) > 100, "the extraction found suspiciously few ids"
    # gettext("a" if x else "b") reads to the extractor as one id "ab": name each id in a call of its own.
    assert [key for key in used if not SYMBOLIC_ID.fullmatch(key)] == []
    for language in i18n.LANGUAGES:
        assert sorted(set(used) - set(entries(language))) == [], language


def test_ids_used_with_a_count_are_plural_entries_and_the_others_are_not():
    used = used_ids()
    assert {key for key, plural in used.items() if plural} <= plural_ids("id")
    assert {key for key, plural in used.items() if not plural} & plural_ids("id") == set()


@pytest.mark.parametrize(("family", "members"), DYNAMIC_FAMILIES.items())
def test_every_state_source_check_and_role_has_a_text(family, members):
    for language in i18n.LANGUAGES:
        assert [m for m in members if not i18n.has_message(f"{family}.{m}", language)] == []


@pytest.mark.parametrize("code", sorted(refusals.ENGLISH))
def test_every_refusal_code_has_a_text_in_both_languages(code):
    """The pages translate a refusal by its code; a text may leave out a parameter but never invent one."""
    english_parameters = {name for _, name, _, _ in string.Formatter().parse(refusals.ENGLISH[code]) if name}
    for language in i18n.LANGUAGES:
        texts = entries(language).get(f"refused.{code}")
        assert texts, f"refused.{code} missing in {language}"
        assert placeholders(texts) <= english_parameters


def test_a_refusal_reads_in_english_for_the_api():
    refusal = refusals.Refusal("checks_incomplete", {"checks": ("dns", "connectivity")})
    assert str(refusal) == "the checks are not complete: dns, connectivity not recorded"
    with pytest.raises(ValueError):
        refusals.Refusal("no_such_code")


def test_every_form_field_action_event_and_complaint_step_has_a_text():
    """Keys the pages build at run time (``"field." ~ name`` and the like) exist in both languages."""
    from wtforms.fields.core import UnboundField

    from alert_webhook.core.complaints import ComplaintChannel
    from alert_webhook.web import formatting
    from alert_webhook.web import forms as pages

    def field_names(form_class) -> set[str]:
        return {n for n in dir(form_class) if isinstance(getattr(form_class, n), UnboundField)}

    keys = {"login.required"}  # Flask-Login's message, by key
    for action, form_class in pages.ACTION_FORMS.items():
        keys |= {f"action.{action}", f"action.{action}.submit"}
        keys |= {f"field.{name}" for name in field_names(form_class)}
    for form_class in (
        pages.CheckForm,
        pages.CommentForm,
        pages.ComplaintForm,
        pages.RespondForm,
        pages.NewUserForm,
        pages.EscalateComplaintForm,
        pages.ResolveComplaintForm,
    ):
        keys |= {f"field.{name}" for name in field_names(form_class) - {"check"}}
    keys |= {f"field.{name}" for name in field_names(pages.LetterForm) - {"scan"}}
    keys |= {f"complaints.channel.{c}" for c in ComplaintChannel}
    keys |= {f"evidence.{key}" for key in formatting.EVIDENCE_KEYS}
    keys |= {f"complaints.{step}" for step in pages.COMPLAINT_STEPS}
    keys |= {f"complaints.state.{s}" for s in ("received", "responded", "escalated", "resolved")}
    keys |= {f"complaints.resolved_by.{who}" for who in ("officer", "official")}
    # Every kind of timeline event the services write (they write only EventKinds) has a label.
    assert {"dispose", "close", "opened", "letter_added"} <= set(EventKind)
    assert {f"event.{kind}" for kind in EventKind} <= formatting.EVENT_KINDS
    keys |= formatting.EVENT_KINDS
    for language in i18n.LANGUAGES:
        assert sorted(k for k in keys if not i18n.has_message(k, language)) == [], language


def test_wtforms_own_messages_map_onto_existing_ids():
    from wtforms.validators import DataRequired

    assert all(i18n.has_message(key, "id") for key in i18n.WTFORMS_MESSAGES.values())
    assert DataRequired().message is None  # so WTForms asks the translations for "This field is required."


# --- looking text up -----------------------------------------------------------------------------------


def test_translate_fills_placeholders_and_refuses_unknown_ids():
    assert i18n.translate("case.title", "id", id=7, target="Bappeda") == "Kasus #7: Bappeda"
    assert i18n.translate("case.title", "en", id=7, target="Bappeda") == "Case #7: Bappeda"
    with pytest.raises(KeyError):
        i18n.translate("no.such.key", "id")
    with pytest.raises(KeyError):
        i18n.translate("case.title", "id", id=7)  # a placeholder without its value
    with pytest.raises(KeyError):
        i18n.translate_plural("no.such.key", 2, "en")
    assert not i18n.has_message("no.such.key", "en") and i18n.has_message("case.title", "en")


def test_a_count_picks_the_languages_plural_form():
    """Indonesian says "1 menit" and "5 menit" alike; English "1 minute" but "5 minutes"."""
    assert i18n.translate_plural("login.throttled", 1, "id").endswith("1 menit.")
    assert i18n.translate_plural("login.throttled", 5, "id").endswith("5 menit.")
    assert i18n.translate_plural("login.throttled", 1, "en").endswith("in 1 minute.")
    assert i18n.translate_plural("login.throttled", 5, "en").endswith("in 5 minutes.")


def test_a_missing_compiled_catalogue_names_the_command_that_makes_it(monkeypatch, tmp_path):
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    i18n.catalogue.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="make translations"):
            i18n.catalogue("en")
    finally:
        monkeypatch.undo()
        i18n.catalogue.cache_clear()


def test_language_choice_query_then_cookie_then_indonesian():
    assert i18n.choose_language("en", "id") == "en"
    assert i18n.choose_language(None, "en") == "en"
    assert i18n.choose_language("xx", None) == "id"
    assert i18n.choose_language(None, None) == "id"


def test_flask_babel_carries_the_requests_language(app):
    with app.test_request_context("/cases?lang=en"):
        assert i18n.current_language() == "en" and i18n.gettext("nav.cases") == "Cases"
        # The official documents switch to Indonesian for the rest of the request, after text was looked up.
        i18n.use_language("id")
        assert i18n.current_language() == "id" and i18n.gettext("nav.cases") == "Daftar kasus"
    with app.test_request_context("/cases", headers={"Cookie": "lang=en"}):
        assert i18n.current_language() == "en"
    with app.test_request_context("/cases"):
        assert i18n.current_language() == "id"
    with app.app_context():
        assert i18n.current_language() == "id"


def test_the_language_asked_for_is_remembered_in_a_cookie(client):
    answer = client.get("/login?lang=en")
    assert any(c.startswith("lang=en;") for c in answer.headers.getlist("Set-Cookie"))
    assert "Sign in" in answer.get_data(as_text=True)
    assert "Sign in" in client.get("/login").get_data(as_text=True)


# --- dates, times and numbers --------------------------------------------------------------------------

ELEVEN_WIB = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)


def test_an_instant_reads_as_a_government_office_writes_it():
    assert i18n.format_instant(ELEVEN_WIB, "id", JAKARTA) == "27 November 2026 pukul 11.00 WIB"
    assert i18n.format_instant(ELEVEN_WIB, "en", JAKARTA) == "27 November 2026, 11:00 WIB"
    december = datetime(2026, 12, 1, 1, 5, tzinfo=UTC)
    assert i18n.format_instant(december, "id", JAKARTA) == "1 Desember 2026 pukul 08.05 WIB"
    assert i18n.format_instant_short(december, "id", JAKARTA) == "1 Des 2026 08.05 WIB"
    assert i18n.format_instant_short(december, "en", JAKARTA) == "1 Dec 2026, 08:05 WIB"
    assert i18n.format_time(december, "id", JAKARTA) == "08.05 WIB"
    assert i18n.format_time(december, "en", JAKARTA) == "08:05 WIB"


def test_an_instant_is_shown_in_the_zone_asked_for_whatever_zone_it_came_in():
    late_evening_utc = datetime(2026, 11, 30, 18, 30, tzinfo=UTC)  # already the next day in Jakarta
    assert i18n.format_instant(late_evening_utc, "id", JAKARTA) == "1 Desember 2026 pukul 01.30 WIB"
    makassar = ZoneInfo("Asia/Makassar")
    assert i18n.format_time(late_evening_utc, "id", makassar) == "02.30 WITA"


def test_an_instant_without_a_zone_is_refused():
    with pytest.raises(ValueError, match="no zone"):
        i18n.format_instant(datetime(2026, 11, 27, 11, 0), "id", JAKARTA)


def test_dates_name_the_month_in_the_language():
    assert i18n.format_date(date(2026, 8, 17), "id") == "17 Agustus 2026"
    assert i18n.format_date(date(2026, 8, 17), "en") == "17 August 2026"


def test_numbers_use_the_languages_separators():
    assert i18n.format_decimal(1234.5, "id") == "1.234,5"
    assert i18n.format_decimal(1234.5, "en") == "1,234.5"
    assert i18n.format_decimal(0.25, "id", digits=2) == "0,25"
    assert i18n.format_decimal(7, "id", digits=0) == "7"
    assert i18n.format_percent(0.85, "id") == "85%"
    assert i18n.format_percent(0.85, "en") == "85%"
