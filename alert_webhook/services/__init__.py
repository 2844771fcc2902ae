"""The tracker's services: every action of the API, the pages, the command line and the applier.

One module per domain; each function takes the :class:`~.tracker.Tracker` as its first argument and
touches neither Flask's request nor its application globals:

* :mod:`.notifications` — webhook notifications, spool → database (the applier's ``apply_pending``);
  :mod:`.set_aside` — those that could not be applied, for the admins;
* :mod:`.cases` — reading cases, and the rows every case starts with; :mod:`.views` — what a case shows;
* :mod:`.casework` — disposition, checks, ISP coordination, restore, report, close, comments;
* :mod:`.letters` — OPD letters and their scans;
* :mod:`.outbox` — messages to people (e-mail, Telegram), queued with the action, sent by a dispatcher;
* :mod:`.evidence` — Prometheus: check evidence and the case chart;
* :mod:`.accounts` — users, tokens, the sign-in limit;
* :mod:`.complaints` — complaints and who may act on them;
* :mod:`.evaluation` — the quarterly evaluation's queries.

Data flows one way: the API and the pages call these, these call the pure core and the store.
"""

from . import (
    accounts,
    cases,
    casework,
    complaints,
    evaluation,
    evidence,
    letters,
    notifications,
    outbox,
    set_aside,
    views,
)
from .errors import Forbidden, Invalid, NotFound, Refused, ServiceError, TooLarge, Unsupported
from .tracker import SYSTEM, Tracker, actor_of

__all__ = [
    "SYSTEM",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Refused",
    "ServiceError",
    "TooLarge",
    "Tracker",
    "Unsupported",
    "accounts",
    "actor_of",
    "cases",
    "casework",
    "complaints",
    "evaluation",
    "evidence",
    "letters",
    "notifications",
    "outbox",
    "set_aside",
    "views",
]
