"""The pure ingestion rules, without a database: plans for the payload fixtures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from alert_webhook.core.alertmanager import parse_notification
from alert_webhook.core.ingest import (
    AddEpisode,
    CaseState,
    EpisodeState,
    NetworkRestored,
    OpenCase,
    Reopen,
    World,
    case_key,
    choose_letter_case,
    content_digest,
    plan_notification,
)

PAYLOADS = Path(__file__).with_name("payloads")
KEY = "alertname=BatiknetOPDUnreachable,target=setda"
EPISODE = ("a1b2c3d4e5f60001", datetime(2026, 11, 30, 2, 55, 0, 123456, tzinfo=UTC))
RESTORED = datetime(2026, 11, 30, 3, 40, tzinfo=UTC)


def load(name: str):
    return parse_notification(json.loads((PAYLOADS / f"{name}.json").read_text()))


def plan(name: str, world: World, window: float = 7.25 * 3600, clock=lambda a, b: (b - a).total_seconds()):
    return plan_notification(
        load(name),
        world,
        lambda target: {"bappeda": ("dist-sw1", "core-router")}.get(target, ()),
        clock,
        window,
    )


def test_case_key_uses_group_labels_not_group_key() -> None:
    firing, peer = load("firing"), load("ha_peer_firing")
    assert case_key(firing) == KEY
    assert content_digest(firing) == content_digest(peer)  # the HA peer differs only in externalURL
    assert content_digest(firing) != content_digest(load("resolved"))


def test_first_firing_opens_a_case_with_its_episode() -> None:
    effects = plan("firing", World()).effects
    assert isinstance(effects[0], OpenCase) and effects[0].target == "setda" and effects[0].group_key == KEY
    assert isinstance(effects[1], AddEpisode) and effects[1].case == effects[0].case


def test_known_episode_is_a_duplicate() -> None:
    world = World(
        episodes={EPISODE: EpisodeState(1, "firing")},
        cases={1: CaseState(1, KEY, "setda", False, None, frozenset({EPISODE}), frozenset({"setda"}))},
        latest_by_key={KEY: 1},
    )
    assert plan("firing", world).duplicate


def test_resolved_of_the_last_firing_episode_restores() -> None:
    world = World(
        episodes={EPISODE: EpisodeState(1, "firing")},
        cases={1: CaseState(1, KEY, "setda", False, None, frozenset({EPISODE}), frozenset({"setda"}))},
        latest_by_key={KEY: 1},
    )
    effects = plan("resolved", world).effects
    assert NetworkRestored(1, RESTORED) in effects


def test_reopen_window_decides_between_flap_and_new_linked_case() -> None:
    restored = CaseState(1, KEY, "setda", False, RESTORED, frozenset(), frozenset({"setda"}))
    world = World(
        episodes={EPISODE: EpisodeState(1, "resolved")}, cases={1: restored}, latest_by_key={KEY: 1}
    )
    inside = plan("flap_second_firing", world).effects
    assert isinstance(inside[0], Reopen) and inside[0].case == 1
    outside = plan("flap_second_firing", world, window=60).effects
    assert isinstance(outside[0], OpenCase) and outside[0].previous_case_id == 1
    closed = World(
        episodes=world.episodes, cases={1: CaseState(1, KEY, "setda", True, RESTORED)}, latest_by_key={KEY: 1}
    )
    assert isinstance(plan("flap_second_firing", closed).effects[0], OpenCase)


def test_resolved_only_for_an_unknown_group_opens_nothing() -> None:
    effects = plan("resolved", World()).effects
    assert [type(e) for e in effects] == [AddEpisode]
    assert effects[0].case is None


def test_topology_join_uses_the_nearest_ongoing_upstream_case() -> None:
    core = CaseState(
        5,
        "alertname=BatiknetCoreDeviceDown,target=dist-sw1",
        "dist-sw1",
        False,
        None,
        frozenset(),
        frozenset({"dist-sw1"}),
    )
    effects = plan("opd_behind_core", World(cases={5: core}, ongoing_by_target={"dist-sw1": 5})).effects
    assert not any(isinstance(e, OpenCase) for e in effects)
    assert effects[0].case == 5


def test_letter_joins_the_opd_case_first_then_the_nearest_upstream() -> None:
    assert choose_letter_case("setda", ("dist-sw1", "core-router"), {"core-router": 3, "dist-sw1": 2}) == 2
    assert choose_letter_case("setda", ("dist-sw1",), {"setda": 9, "dist-sw1": 2}) == 9
    assert choose_letter_case("setda", ("dist-sw1",), {}) is None
