"""The server-rendered pages: one blueprint per feature, the forms, the formatting.

    auth         sign-in, sessions, roles, CSRF         cases        the case list and the home page
    case         one case and its workflow forms        noc          the NOC wall screen
    letters      the letter form, scanned letters        complaints   complaints (SOP 6)
    evaluation   the quarterly evaluation (SOP 14)       users        accounts (admins)
    reports      the printed report and evaluation (page and PDF)
    set_aside    webhook notifications the applier set aside (admins)

Every page needs a signed-in user. Views read the services' typed views and call the services for every
change, the same functions the JSON API calls; none runs a query of its own.
"""

from __future__ import annotations

from flask import Flask

from ..settings import Settings
from . import (
    auth,
    case,
    cases,
    complaints,
    evaluation,
    formatting,
    letters,
    noc,
    reports,
    set_aside,
    users,
)

__all__ = ["csrf", "init_app"]

csrf = auth.csrf


def init_app(app: Flask, settings: Settings) -> None:
    auth.init_app(app, settings)
    formatting.register(app)
    for feature in (cases, case, noc, letters, complaints, evaluation, users, set_aside, reports):
        app.register_blueprint(feature.bp)
