"""The invariant checker catches broken plans (so passing it means something), and the
address rules of docs/plan-format.md."""

import copy
import ipaddress
from pathlib import Path

import pytest

from sigma_sn.elements import load_elements
from sigma_sn.planner import addresses
from sigma_sn.planner.plan import plan_scenario
from sigma_sn.scenario import load_scenario
from tests.plan_checks import check_plan_invariants

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def case():
    sc = load_scenario(REPO / "scenarios" / "iridium-router.toml")
    sats = {s.name: s for s in load_elements(sc.element_files).satellites}
    sites = {s.name: s for s in sc.sites}
    plan = plan_scenario(sc)
    check_plan_invariants(plan, satellites=sats, sites=sites)
    return plan, sats, sites


def _events(plan, k=1):
    return {e["action"]: e for e in plan["handovers"][k]["events"]}


def _swap_add_and_set_primary(plan):
    ev = _events(plan)
    ev["ADD_IP"]["t_s"], ev["SET_PRIMARY"]["t_s"] = ev["SET_PRIMARY"]["t_s"], ev["ADD_IP"]["t_s"]


def _delete_after_los(plan):
    h = plan["handovers"][1]
    h["events"][4]["t_s"] = plan["mobiles"][0]["serving"][1]["to_s"] + 1000.0


def _forget_an_lm_update(plan):
    del plan["location_updates"][2]


def _stale_lm_address(plan):
    plan["location_updates"][2]["address"] = plan["location_updates"][1]["address"]


def _serve_past_los(plan):
    plan["mobiles"][0]["serving"][-1]["to_s"] += 30.0




def _wrong_prefix(plan):
    s = plan["mobiles"][0]["serving"][1]
    s["address"] = "2001:db8:ffff::1"


def _overlapping_serving(plan):
    plan["mobiles"][0]["serving"][1]["from_s"] -= 5.0


def _misnumbered(plan):
    plan["handovers"][1]["index"] = 7


BREAKS = [_swap_add_and_set_primary, _delete_after_los, _forget_an_lm_update,
          _stale_lm_address, _serve_past_los, _wrong_prefix, _overlapping_serving,
          _misnumbered]


@pytest.mark.parametrize("brk", BREAKS, ids=[b.__name__[1:] for b in BREAKS])
def test_checker_rejects_a_broken_plan(case, brk):
    plan, sats, sites = case
    bad = copy.deepcopy(plan)
    brk(bad)
    with pytest.raises(AssertionError):
        check_plan_invariants(bad, satellites=sats, sites=sites)


def test_checker_measures_elevation_itself(case):
    """Claim a satellite served from 200 s before it rose: the plan's own candidate window
    is edited to agree, so only skyfield's altaz() can tell."""
    plan, sats, sites = case
    bad = copy.deepcopy(plan)
    m = bad["mobiles"][0]
    k, new = next((k, s) for k, s in enumerate(m["serving"][1:]) if s["from_s"] > 600.0)
    window = next(c for c in m["candidates"]
                  if c["ap"] == new["ap"] and c["aos_s"] <= new["from_s"] <= c["los_s"])
    shift = new["from_s"] - (window["aos_s"] - 200.0)
    window["aos_s"] -= 240.0
    for e in bad["handovers"][k]["events"][:4]:
        e["t_s"] -= shift
    new["from_s"] -= shift
    m["serving"][k]["to_s"] -= shift
    bad["location_updates"][k + 1]["t_s"] -= shift
    with pytest.raises(AssertionError, match=r"served by \S+ \d+\.\d+° under the mask at"):
        check_plan_invariants(bad, satellites=sats, sites=sites)


def test_access_point_subnets_are_deterministic_by_name():
    nets = addresses.ap_subnets(["b", "a", "c"])
    assert {k: str(v) for k, v in nets.items()} == {
        "a": "2001:db8:1::/48", "b": "2001:db8:2::/48", "c": "2001:db8:3::/48"}
    assert addresses.address(nets["b"], 5) == "2001:db8:2::5"
    nets = addresses.ap_subnets(["x"], "2001:db8:ab00::/40")
    assert str(nets["x"]) == "2001:db8:ab00:100::/56"
    nets = addresses.ap_subnets(["x", "y"], "2001:db8:0:ff00::/56")
    assert str(nets["y"]) == "2001:db8:0:ff02::/64"
    for ap, net in addresses.ap_subnets([f"s{i}" for i in range(300)]).items():
        assert net.subnet_of(ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize("prefix", ["2001:db8::/32", "2001:db8:ab00::/40",
                                    "2001:db8:0:ff00::/56", "2001:db8:1::/48",
                                    "fd00:1:2:30::/60"])
def test_address_book_writes_what_ipaddress_writes(prefix):
    """The book formats addresses from a cached head (the plan makes hundreds of
    thousands); every one must be ipaddress's text, one by one or a mobile's batch, for
    small and large interface ids and prefixes where '::' falls elsewhere."""
    nets = addresses.ap_subnets([f"s{i}" for i in range(12)], prefix)
    book = addresses.AddressBook(nets)
    aps = sorted(nets)
    for iid in (1, 2, 0xA, 0xFFFF, 0x10000, 0x123456):
        want = [str(nets[ap].network_address + iid) for ap in aps]
        assert [book.address(ap, iid) for ap in aps] == want
        assert book.addresses(aps, iid) == want
        assert addresses.AddressBook(nets).addresses(aps, iid) == want   # nothing cached


def test_bad_prefixes_say_why():
    with pytest.raises(ValueError, match="IPv6"):
        addresses.parse_prefix("192.0.2.0/24")
    with pytest.raises(ValueError, match="/63 or shorter"):
        addresses.parse_prefix("2001:db8::/64")
    with pytest.raises(ValueError, match="room for 3 access-point subnets"):
        addresses.ap_subnets(list("abcd"), "2001:db8::/62")
