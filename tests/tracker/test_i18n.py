"""The message catalogue: both languages complete, placeholders consistent, every key used exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from alert_webhook import i18n
from alert_webhook.core import refusals
from alert_webhook.core.workflow import USER_ROLES, CaseSource, CaseState, Check, CheckResult, EventKind

CHECK_RESULTS, CHECKS, ROLES, SOURCES, STATES = (
    tuple(CheckResult),
    tuple(Check),
    USER_ROLES,
    tuple(CaseSource),
    tuple(CaseState),
)

PACKAGE = Path(i18n.__file__).parent
# Literal keys: _("key") and gettext("key") in templates and Python; dynamic families are tested below.
LITERAL_KEY = re.compile(r"""(?:\b_|gettext)\(\s*["']([a-z_]+(?:\.[a-z_0-9]+)+)["']""")
DYNAMIC_FAMILIES = {
    "state": STATES,
    "source": SOURCES,
    "check": (*CHECKS, *CHECK_RESULTS),
    "role": ROLES,
}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def used_keys() -> set[str]:
    keys = set()
    for path in [*PACKAGE.glob("templates/*.html"), *PACKAGE.rglob("*.py")]:
        keys.update(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    return keys


def test_both_languages_have_the_same_keys():
    indonesian, english = set(i18n.MESSAGES["id"]), set(i18n.MESSAGES["en"])
    assert sorted(indonesian - english) == [], "missing in English"
    assert sorted(english - indonesian) == [], "missing in Bahasa Indonesia"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_no_empty_texts(language):
    assert [k for k, v in i18n.MESSAGES[language].items() if not v.strip()] == []


def test_placeholders_match_between_languages():
    mismatched = {
        key: (placeholders(text), placeholders(i18n.MESSAGES["en"][key]))
        for key, text in i18n.MESSAGES["id"].items()
        if placeholders(text) != placeholders(i18n.MESSAGES["en"].get(key, ""))
    }
    assert mismatched == {}


def test_every_key_used_in_code_and_templates_exists():
    found = used_keys()
    assert len(found) > 100, "the key scanner found suspiciously few keys"
    assert sorted(found - set(i18n.MESSAGES["id"])) == []


@pytest.mark.parametrize(("family", "members"), DYNAMIC_FAMILIES.items())
def test_every_state_source_check_and_role_has_a_text(family, members):
    for language in i18n.LANGUAGES:
        assert [m for m in members if f"{family}.{m}" not in i18n.MESSAGES[language]] == []


@pytest.mark.parametrize("code", sorted(refusals.ENGLISH))
def test_every_refusal_code_has_a_text_in_both_languages(code):
    """The pages translate a refusal by its code; a text may leave out a parameter but never invent one."""
    for language in i18n.LANGUAGES:
        text = i18n.MESSAGES[language].get(f"refused.{code}")
        assert text, f"refused.{code} missing in {language}"
        assert placeholders(text) <= placeholders(refusals.ENGLISH[code])


def test_a_refusal_reads_in_english_for_the_api():
    refusal = refusals.Refusal("checks_incomplete", {"checks": ("dns", "connectivity")})
    assert str(refusal) == "the checks are not complete: dns, connectivity not recorded"
    with pytest.raises(ValueError):
        refusals.Refusal("no_such_code")


def test_language_choice_query_then_cookie_then_indonesian():
    assert i18n.choose_language("en", "id") == "en"
    assert i18n.choose_language(None, "en") == "en"
    assert i18n.choose_language("xx", None) == "id"
    assert i18n.choose_language(None, None) == "id"


def test_translate_fills_placeholders_and_refuses_unknown_keys():
    assert i18n.translate("case.title", "id", id=7, target="Bappeda") == "Kasus #7: Bappeda"
    assert i18n.translate("case.title", "en", id=7, target="Bappeda") == "Case #7: Bappeda"
    with pytest.raises(KeyError):
        i18n.translate("no.such.key", "id")


def test_every_form_field_action_event_month_and_complaint_step_has_a_text():
    """Keys the pages build at run time (``"field." ~ name`` and the like) exist in both languages."""
    from wtforms.fields.core import UnboundField

    from alert_webhook.core.complaints import ComplaintChannel
    from alert_webhook.web import formatting
    from alert_webhook.web import forms as pages

    def field_names(form_class) -> set[str]:
        return {n for n in dir(form_class) if isinstance(getattr(form_class, n), UnboundField)}

    keys = {f"month.{m}" for m in range(1, 13)}
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
        assert sorted(keys - set(i18n.MESSAGES[language])) == [], language


def test_wtforms_own_messages_map_onto_existing_keys():
    from wtforms.validators import DataRequired

    assert set(i18n.WTFORMS_MESSAGES.values()) <= set(i18n.MESSAGES["id"])
    assert DataRequired().message is None  # so WTForms asks the translations for "This field is required."
