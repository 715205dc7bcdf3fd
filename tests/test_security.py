"""Security (paper §5): SCTP-AUTH on ASCONF, signed location updates, attackers as actors,
ingress filtering for both protocols. Crafted cases from tests/test_sim."""

from __future__ import annotations


import pytest

from sigma_sn.errors import InputError
from sigma_sn.geometry import C_KM_S
from sigma_sn.sim import Handover, LinkGeometry, MipConfig, Replay, Step, simulate
from sigma_sn.sim.security import (Attack, Guard, SecurityConfig, asconf_chunk, auth_tag,
                                   derive_key, ingress_comparison, parse_security,
                                   prefix_filter, simulate_with_attacks, verify_asconf)
from tests.test_sim import A_ADDR, B_ADDR, RATE_PPS, TERRESTRIAL_S, cbr, two_path_replay

C_ADDR = "2001:db8:c::1"
ATTACK_T_S = 40.0           # after the handover to B (SET_PRIMARY at 30 s), before LOS A


def attacked(kind: str, auth: bool, *, replay=None, t_s=ATTACK_T_S, **cfg):
    sec = SecurityConfig(auth=auth, attacks=(Attack(kind, t_s, attempts=3, interval_s=5.0),))
    return simulate_with_attacks(replay or two_path_replay(), cbr(**cfg), sec)


def test_hmac_covers_every_field_of_the_chunk():
    key = derive_key(1, "T", "association")
    tag = auth_tag(key, asconf_chunk(7, "SET_PRIMARY", B_ADDR))
    assert len(tag) == 32
    assert verify_asconf(key, 7, 7, "SET_PRIMARY", B_ADDR, tag) == "accepted"
    for serial, action, address in ((8, "SET_PRIMARY", B_ADDR), (7, "ADD_IP", B_ADDR),
                                    (7, "SET_PRIMARY", A_ADDR)):
        assert verify_asconf(key, serial, serial, action, address, tag) == "bad_tag"
    other = derive_key(1, "T", "attacker")
    assert verify_asconf(other, 7, 7, "SET_PRIMARY", B_ADDR, tag) == "bad_tag"
    assert verify_asconf(key, 7, 7, "SET_PRIMARY", B_ADDR, None) == "bad_tag"


def test_a_replayed_chunk_has_a_valid_tag_but_a_stale_serial():
    key = derive_key(1, "T", "association")
    tag = auth_tag(key, asconf_chunk(3, "SET_PRIMARY", B_ADDR))
    # the CN has applied serial 3 and now expects 4
    assert verify_asconf(key, 4, 3, "SET_PRIMARY", B_ADDR, tag) == "stale_serial"
    assert verify_asconf(None, 4, 6, "ADD_IP", B_ADDR, None) == "serial_gap"


def test_location_updates_are_signed_and_sequenced():
    guard = Guard("T", 1, auth=True)
    first = guard.sign_lm(B_ADDR)
    assert guard.lm_verdict(B_ADDR, first) == "accepted" and guard.admit_lm(B_ADDR, first)
    assert guard.lm_verdict(B_ADDR, first) == "stale_sequence"         # replayed
    assert guard.lm_verdict(C_ADDR, (first[0] + 1, first[1])) == "bad_tag"
    assert Guard("T", 1, auth=False).lm_verdict(C_ADDR, None) == "accepted"


def test_no_attack_reports_exactly_what_simulate_reports():
    replay = two_path_replay()
    rep = simulate_with_attacks(replay, cbr(loss_prob=0.01), SecurityConfig(auth=True))
    sec = rep.pop("security")
    assert rep["loss_causes"].pop("to_attacker") == 0
    plain = simulate(replay, cbr(loss_prob=0.01))
    # the same replay; the AUTH chunks only add bytes (tests/test_sctp_rfc.py), so the
    # ASCONFs take microseconds longer to serialise and nothing else changes
    for key in ("packets", "loss_causes", "location_manager", "association"):
        assert rep[key] == plain[key]
    for h, g in zip(rep["handovers"], plain["handovers"], strict=True):
        assert h["cn_switch_s"] == pytest.approx(g["cn_switch_s"], abs=1e-4)
        assert h["lost"] == g["lost"]
    assert sec["genuine_rejected"] == {"asconf": 0, "lm_update": 0}


def test_without_auth_the_hijack_redirects_the_correspondents_traffic():
    rep = attacked("hijack", auth=False)
    a = rep["security"]["attacks"][0]
    assert a["accepted"] >= 2, a                       # ADD_IP and SET_PRIMARY went through
    # from the forged SET_PRIMARY on, every datagram goes to the attacker
    expected = (rep["duration_s"] - ATTACK_T_S) * RATE_PPS
    assert a["data_packets_to_attacker"] == pytest.approx(expected, abs=2 * RATE_PPS * 0.1), a
    assert rep["loss_causes"]["to_attacker"] == a["data_packets_to_attacker"]
    assert rep["packets"]["delivered"] <= ATTACK_T_S * RATE_PPS + 10, rep["packets"]
    assert rep["security"]["cn_primary_at_end"] == a["address"]


def test_with_auth_the_hijack_is_rejected_and_the_mobile_keeps_its_traffic():
    rep = attacked("hijack", auth=True)
    a = rep["security"]["attacks"][0]
    assert a["attempts"] == 6 and a["accepted"] == 0, a          # 3 rounds x 2 chunks
    assert a["rejected_by"] == {"bad_tag": 6}, a
    assert a["packets_to_attacker"] == 0 and rep["security"]["packets_to_attacker"] == 0
    assert rep["packets"]["lost"] == 0, rep["packets"]
    assert rep["security"]["cn_primary_at_end"] == B_ADDR
    assert rep["security"]["genuine_rejected"]["asconf"] == 0


@pytest.mark.parametrize("auth", [False, True])
def test_bogus_location_update_misdirects_new_correspondents_unless_signed(auth):
    rep = attacked("bogus_lm_update", auth=auth, lm_query_rate_per_s=2.0)
    a = rep["security"]["attacks"][0]
    if auth:
        assert a["accepted"] == 0 and a["rejected_by"] == {"bad_tag": 3}, a
        assert a["associations_misdirected"] == 0 and a["packets_to_attacker"] == 0
        assert rep["security"]["lm_record_at_end"] == B_ADDR
    else:
        assert a["accepted"] == 3, a
        # queries from the first forged update (+ one way to the LM) to the end
        window_s = rep["duration_s"] - ATTACK_T_S
        assert a["associations_misdirected"] > 0.5 * 2.0 * window_s, a
        assert a["packets_to_attacker"] == a["associations_misdirected"]
        assert rep["security"]["lm_record_at_end"] == a["address"]
    assert rep["packets"]["lost"] == 0          # the data path never touches the LM


def three_path_replay() -> Replay:
    """A -> B at 30 s, B -> C at 70 s; B sets at 80 s, so SET_PRIMARY(B) replayed
    afterwards would send the correspondent's data into a dead link."""
    c_addr = C_ADDR
    links = (LinkGeometry.constant("A", 1000.0, [(0.0, 60.0)]),
             LinkGeometry.constant("B", 1500.0, [(20.0, 80.0)]),
             LinkGeometry.constant("C", 1200.0, [(60.0, 1000.0)]))
    steps = (Step(20.1, "ADDRESS_READY", B_ADDR, "B", 0), Step(20.1, "ADD_IP", B_ADDR, "B", 0),
             Step(30.0, "SET_PRIMARY", B_ADDR, "B", 0), Step(30.1, "LM_UPDATE", B_ADDR, "B", 0),
             Step(58.0, "DELETE_IP", A_ADDR, "A", 0),
             Step(60.1, "ADDRESS_READY", c_addr, "C", 1), Step(60.1, "ADD_IP", c_addr, "C", 1),
             Step(70.0, "SET_PRIMARY", c_addr, "C", 1), Step(70.1, "LM_UPDATE", c_addr, "C", 1),
             Step(78.0, "DELETE_IP", B_ADDR, "B", 1))
    return Replay("T", "2026-08-22T00:00:00Z", 120.0, links, "A", A_ADDR, steps,
                  (Handover(0, "A", "B", 30.0, True), Handover(1, "B", "C", 70.0, True)))


@pytest.mark.parametrize("auth", [False, True])
def test_replayed_genuine_asconf_is_rejected_by_the_serial_check(auth):
    replay = three_path_replay()
    rep = attacked("replay", auth=auth, replay=replay, t_s=90.0)
    a = rep["security"]["attacks"][0]
    captured = 6                                 # 2 ADD_IP, 2 SET_PRIMARY, 2 DELETE_IP
    assert a["attempts"] == 3 * captured and a["accepted"] == 0, a
    assert a["rejected_by"] == {"stale_serial": 3 * captured}, a
    # with AUTH on, every replayed chunk still carried a tag that verifies
    assert a["replayed_with_valid_tag"] == (3 * captured if auth else 0), a
    baseline = simulate(replay, cbr())
    assert rep["packets"] == baseline["packets"] and rep["packets"]["lost"] == 0
    assert rep["security"]["cn_primary_at_end"] == C_ADDR


def test_ingress_filter_passes_sigma_and_drops_a_spoofed_source():
    replay = two_path_replay()
    allowed = prefix_filter(replay, 48)
    assert allowed("A", A_ADDR) and allowed("B", B_ADDR)
    assert not allowed("B", A_ADDR) and not allowed("A", "2001:db8:ffff::1")
    rep = simulate_with_attacks(replay, cbr(direction="up"),
                                SecurityConfig(ingress_filtering=True))
    assert rep["loss_causes"]["ingress_filtered"] == 0 and rep["packets"]["lost"] == 0
    assert rep["handovers"][0]["cn_switch_s"] is not None       # its ASCONFs passed too


def test_ingress_comparison_costs_mobile_ip_the_reverse_tunnel_detour():
    mip = MipConfig(ha_cn_s=0.030, ha_ap_s=0.040)
    before_any_handover = two_path_replay(duration_s=15.0)      # both served by A alone
    out = ingress_comparison(before_any_handover, cbr(), mip)
    sigma, plain, tunnelled = out["rows"]
    assert sigma["ingress_filtered"] == 0 and sigma["lost"] == 0, sigma
    assert plain["ingress_filtered"] > 0.9 * plain["sent"], plain
    assert tunnelled["ingress_filtered"] == 0, tunnelled
    # the uplink detour MH -> HA -> CN instead of MH -> CN; both cross the link to A
    detour_ms = (mip.ha_ap_s + mip.ha_cn_s - TERRESTRIAL_S) * 1e3
    tunnel_header_ms = 40 * 8 / 20e6 * 1e3
    assert out["reverse_tunnel_detour_ms"] == pytest.approx(detour_ms + tunnel_header_ms,
                                                            abs=0.002), out
    assert sigma["latency_p50_ms"] == pytest.approx(
        (1000.0 / C_KM_S + TERRESTRIAL_S) * 1e3, abs=0.5)


def test_security_table_is_validated_naming_file_and_key():
    sec = parse_security({"auth": True, "attacks": [{"kind": "hijack", "t_s": 5}]}, "x.toml")
    assert sec.auth and sec.attacks == (Attack("hijack", 5.0),)
    bad = [({"auth": "yes"}, "x.toml: security.auth: must be true or false, got 'yes'"),
           ({"attacks": [{"kind": "dos", "t_s": 1}]},
            "x.toml: security.attacks[0].kind: must be one of hijack, bogus_lm_update, replay, "
            "got 'dos'"),
           ({"attacks": [{"kind": "replay"}]}, "x.toml: security.attacks[0].t_s: missing"),
           ({"attacks": [{"kind": "replay", "t_s": 1, "attempts": 0}]},
            "x.toml: security.attacks[0].attempts: must be >= 1, got 0"),
           ({"attacks": [{"kind": "replay", "t_s": 1, "address": "evil"}]},
            "x.toml: security.attacks[0].address: not an IP address: 'evil'"),
           ({"attacks": [{"kind": "replay", "t_s": 1, "address": 5}]},
            "x.toml: security.attacks[0].address: must be a string, got 5"),
           ({"keys": 1}, "x.toml: security.keys: unknown key; expected one of attacks, auth, "
                         "ingress_filtering, location_manager, prefix_len")]
    for raw, message in bad:
        with pytest.raises(InputError) as exc:
            parse_security(raw, "x.toml")
        assert str(exc.value) == message
