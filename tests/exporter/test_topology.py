from exporter.topology import Status, statuses

from .fakes import inventory


def answering(silent: set[str]) -> dict[str, bool]:
    return {t.id: t.id not in silent for t in inventory().targets()}


def test_everything_answering_is_up():
    assert set(statuses(inventory(), answering(set())).values()) == {Status.UP}


def test_a_cut_at_the_core_shows_one_down_and_the_rest_unreachable():
    inv = inventory()
    everyone = {t.id for t in inv.targets()}
    result = statuses(inv, answering(everyone))
    assert result["core"] is Status.DOWN
    assert {t for t, s in result.items() if s is Status.UNREACHABLE} == everyone - {"core"}


def test_a_cut_distribution_switch_makes_only_its_subtree_unreachable():
    result = statuses(inventory(), answering({"dist", "setda", "dinkes"}))
    assert result["dist"] is Status.DOWN
    assert result["setda"] is Status.UNREACHABLE
    assert result["dinkes"] is Status.UNREACHABLE
    assert result["kec-utara"] is Status.UP
    assert result["core"] is Status.UP


def test_a_single_silent_office_is_down_not_unreachable():
    result = statuses(inventory(), answering({"setda"}))
    assert result["setda"] is Status.DOWN
    assert list(result.values()).count(Status.DOWN) == 1


def test_the_fault_is_placed_at_the_highest_silent_target_on_the_path():
    # The ISP uplink is silent and so is the office behind it: the office is unreachable.
    result = statuses(inventory(), answering({"isp-a", "kec-utara"}))
    assert result["isp-a"] is Status.DOWN
    assert result["kec-utara"] is Status.UNREACHABLE


def test_targets_not_probed_yet_get_no_status_and_block_nobody():
    answers = answering({"setda"})
    del answers["dist"]
    result = statuses(inventory(), answers)
    assert "dist" not in result
    assert result["setda"] is Status.DOWN
