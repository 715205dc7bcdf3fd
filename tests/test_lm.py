"""The location manager's timeline: who is X at time t."""

import pytest

from sigma_sn.planner.lm import LocationManager

UPDATES = [
    {"mobile": "MH", "t_s": 0.0, "address": "2001:db8:1::1", "ap": "A"},
    {"mobile": "MH", "t_s": 100.0, "address": "2001:db8:2::1", "ap": "B"},
    {"mobile": "MH", "t_s": 250.5, "address": "2001:db8:1::1", "ap": "A"},
    {"mobile": "late", "t_s": 50.0, "address": "2001:db8:2::2", "ap": "B"},
]


def test_lookup_returns_the_address_in_force():
    lm = LocationManager(reversed(UPDATES))  # order of the rows does not matter
    assert lm.lookup("MH", 0.0) == "2001:db8:1::1"
    assert lm.lookup("MH", 99.999) == "2001:db8:1::1"
    assert lm.lookup("MH", 100.0) == "2001:db8:2::1"   # an update holds from its instant
    assert lm.lookup("MH", 250.4) == "2001:db8:2::1"
    assert lm.lookup("MH", 1e9) == "2001:db8:1::1"     # the last one, through any outage
    assert lm.lookup_ap("MH", 120.0) == "B"
    assert lm.lookup("late", 49.0) is None and lm.lookup("late", 50.0) == "2001:db8:2::2"
    assert [t for t, _, _ in lm.history("MH")] == [0.0, 100.0, 250.5]


def test_unknown_and_never_served_mobiles():
    plan = {"location_updates": UPDATES, "mobiles": [{"name": "MH"}, {"name": "idle"}]}
    lm = LocationManager.from_plan(plan)
    assert lm.lookup("idle", 10.0) is None
    assert lm.mobiles == ("MH", "idle", "late")
    with pytest.raises(KeyError, match="no mobile 'nobody'"):
        lm.lookup("nobody", 0.0)
