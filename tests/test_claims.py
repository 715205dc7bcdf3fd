"""The paper's claims, as measured on our model (each failure prints the numbers).

The cases are crafted chains of access points whose SIGMA-SN plan comes from the real
planner timing model (``sigma_sn.planner.core.handovers``), replayed by the real
simulator for both protocols with the same links, traffic and seed. Ranges are
constant so every expected number follows from first principles.
"""

from __future__ import annotations

import numpy as np
import pytest

from sigma_sn.compare import compare_replay, metrics_of
from sigma_sn.geometry import C_KM_S
from sigma_sn.planner.core import Timing, Window, handovers, select
from sigma_sn.planner.kinds import Policy
from sigma_sn.sim import Handover, LinkGeometry, MipConfig, Replay, SimConfig, Step, simulate

RANGE_KM = 1200.0
D_S = RANGE_KM / C_KM_S                     # one-way space-segment delay
TERRESTRIAL_S = 0.020
PASS_S = 40.0                               # each access point's window
OVERLAP_S = 10.0                            # ample: > setup (<= 3 s here) + 2 RTT + guard
# The report shares packets out around each protocol's own switch times (Mobile IP: its
# break at the old LOS and its binding); passes this long keep every Mobile IP outage
# well apart from the next handover.
CAPACITY_BPS = 20e6


def address(k: int) -> str:
    return f"2001:db8:{k + 1:x}::1"


def chain_replay(n_handovers: int, timing: Timing, *, pass_s: float = PASS_S,
                 overlap_s: float = OVERLAP_S, range_km: float = RANGE_KM) -> Replay:
    """A mobile handed along access points P0, P1, ...: Pk is up for ``PASS_S`` from
    ``k * (pass_s - overlap_s)``; the SIGMA-SN steps are the planner's for ``timing``."""
    period = pass_s - overlap_s
    wins = [Window(f"P{k}", k * period, k * period + pass_s) for k in range(n_handovers + 1)]
    duration = wins[-1].los_s - 1.0
    links = tuple(LinkGeometry.constant(w.ap, range_km, [(w.aos_s, w.los_s)]) for w in wins)
    rtt = 2.0 * (range_km / C_KM_S + timing.terrestrial_one_way_s)
    sequence = select(Policy.MIN_HANDOVERS, wins, duration, timing, rtt)
    planned = handovers(wins, sequence, timing, lambda ap, t: rtt)
    assert [(h.from_ap, h.to_ap) for h in planned] == [
        (a.ap, b.ap) for a, b in zip(wins, wins[1:])]
    steps, hos = [], []
    for k, h in enumerate(planned):
        for e in h.events:
            old = e.action.value in ("DELETE_IP", "DEACTIVATE")
            steps.append(Step(e.t_s, e.action.value, address(k if old else k + 1),
                              h.from_ap if old else h.to_ap, k))
        hos.append(Handover(k, h.from_ap, h.to_ap, h.events[2].t_s, h.feasible))
    steps.sort(key=lambda s: s.t_s)
    return Replay("T", "2026-08-22T00:00:00Z", duration, links, "P0", address(0), tuple(steps),
                  tuple(hos))


def cbr(rate_pps: float = 100.0, seed: int = 1) -> SimConfig:
    return SimConfig(rate_pps=rate_pps, terrestrial_s=TERRESTRIAL_S, capacity_bps=CAPACITY_BPS,
                     lm_query_rate_per_s=0.0, seed=seed)


def ho_latency_ms(report: dict) -> np.ndarray:
    lat = [h["handover_latency_ms"] for h in report["handovers"]]
    assert None not in lat, f"{report['protocol']}: a handover without latency: {lat}"
    return np.array(lat, dtype=float)


def fit_slope(x, y) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(slope), float(intercept)


# -- claim 1: SIGMA-SN is insensitive to L2, RA and DAD; Mobile IP grows with their sum ---

# (l2_s, ra_interval_s, dad_s): each alone, then all three together
SWEEPS = {
    "l2": [(x, 0.05, 0.0) for x in (0.05, 0.5, 1.0, 2.0)],
    "ra": [(0.05, x, 0.0) for x in (0.05, 0.5, 1.0, 2.0)],
    "dad": [(0.05, 0.05, x) for x in (0.0, 0.5, 1.0, 2.0)],
    "all": [(x, x, x) for x in (0.05, 0.3, 0.6, 0.9)],
}
# handovers per point: deterministic setups need few; a random RA phase needs many (below)
N_HO = {"l2": 10, "dad": 10, "ra": 150, "all": 150}
RATE_PPS = {"l2": 100.0, "dad": 100.0, "ra": 25.0, "all": 25.0}    # the long ones run lighter


@pytest.mark.parametrize("which", sorted(SWEEPS))
def test_sigma_is_flat_while_mobile_ip_grows_with_l2_ra_dad(which):
    xs, sig_lat, sig_lost, mip_lat, mip_lost = [], [], [], [], []
    for l2, ra, dad in SWEEPS[which]:
        timing = Timing(l2_s=l2, ra_s=ra, dad_s=dad, terrestrial_one_way_s=TERRESTRIAL_S)
        mip = MipConfig(t_l2_s=l2, ra_min_s=ra, ra_max_s=ra, t_dad_s=dad)
        doc = compare_replay(chain_replay(N_HO[which], timing), cbr(RATE_PPS[which]), mip)
        s, m = doc["reports"]["sigma"], doc["reports"]["mip"]
        # a periodic RA heard at a uniformly random phase: the expected wait is interval / 2
        xs.append(l2 + ra / 2 + dad)
        sig_lat.append(ho_latency_ms(s).mean())
        sig_lost.append(s["packets"]["lost"])
        mip_lat.append(ho_latency_ms(m).mean())
        mip_lost.append(metrics_of(m)["lost_per_handover"])
    numbers = (f"{which}: x = l2 + E[RA wait] + DAD = {xs} s\n"
               f"  SIGMA-SN mean handover latency {np.round(sig_lat, 3)} ms, lost {sig_lost}\n"
               f"  Mobile IP mean handover latency {np.round(mip_lat, 3)} ms, "
               f"lost per handover {mip_lost}")
    # SIGMA-SN: make-before-break, so the gap is one packet interval whatever the setup
    # time (equal ranges: no path-delay difference), and nothing is lost
    interval_ms = 1e3 / RATE_PPS[which]
    assert max(sig_lat) - min(sig_lat) <= 1.0 and max(sig_lat) <= interval_ms + 1.0, numbers
    assert sig_lost == [0] * len(xs), numbers
    # Mobile IP: latency = setup + BU/first-packet round trip; slope 1 in the setup sum.
    # Tolerance: with a random RA phase the mean wait of n = 150 draws has standard
    # deviation interval / sqrt(12 n), 0.047 s at 2 s: over the ~1 s lever of x that is a
    # slope error of ~0.05, so 0.15 is three standard deviations. Without RA noise only
    # the packet grid (10 ms) blurs a 2 s lever: 0.02.
    slope, intercept_s = fit_slope(xs, np.array(mip_lat) / 1e3)
    tol = 0.15 if which in ("ra", "all") else 0.02
    numbers += f"\n  Mobile IP slope {slope:.3f} (want 1 ± {tol}), intercept {intercept_s:.4f} s"
    print(numbers)
    assert abs(slope - 1.0) <= tol, numbers
    # the intercept is the binding update up plus the first tunnelled packet down:
    # 2 x (space segment + HA <-> access point), plus up to a packet interval each side
    rt = 2 * (D_S + MipConfig().ha_ap_s)
    grid_s = 2 / RATE_PPS[which]
    assert rt - grid_s - tol * 0.5 <= intercept_s <= rt + grid_s + tol * 0.5, numbers
    assert all(b > a for a, b in zip(mip_lost, mip_lost[1:])), numbers


# -- claim 2: SIGMA-SN loses nothing with enough overlap; Mobile IP loses rate x outage ---

@pytest.mark.parametrize("rate_pps", [50.0, 200.0])
def test_sigma_loses_nothing_while_mobile_ip_loses_rate_times_outage(rate_pps):
    timing = Timing(l2_s=0.05, ra_s=0.05, dad_s=1.0, terrestrial_one_way_s=TERRESTRIAL_S)
    mip = MipConfig(t_l2_s=0.05, ra_min_s=0.03, ra_max_s=0.07, t_dad_s=1.0)
    replay = chain_replay(20, timing)
    doc = compare_replay(replay, cbr(rate_pps=rate_pps, seed=4), mip)
    s, m = doc["reports"]["sigma"], doc["reports"]["mip"]
    los = {w.ap: w.up_s[0][1] for w in replay.links}
    lost, predicted, lo_bound, hi_bound = [], [], [], []
    for h in m["handovers"]:
        # the HA rebinds at cn_switch + ha_cn; what it tunnelled to the old access point that
        # would arrive after the MH left at LOS is lost: sends in
        # [LOS - ha_cn - ha_ap - d, binding - ha_cn)
        binding = h["cn_switch_s"] + mip.ha_cn_s
        outage = binding - los[h["from"]] + mip.ha_ap_s + D_S
        lost.append(h["lost"])
        predicted.append(rate_pps * outage)
        # and the binding itself comes l2 + RA wait + DAD + BU one-way after LOS
        base = mip.t_l2_s + mip.t_dad_s + D_S + mip.ha_ap_s + mip.ha_ap_s + D_S
        lo_bound.append(rate_pps * base)
        hi_bound.append(rate_pps * (base + mip.ra_max_s))
    numbers = (f"rate {rate_pps} pkt/s: SIGMA-SN lost per handover "
               f"{[h['lost'] for h in s['handovers']]}, total {s['packets']['lost']}\n"
               f"  Mobile IP lost {lost}\n  predicted rate x outage {np.round(predicted, 2)}\n"
               f"  mechanism bounds [{lo_bound[0]:.1f}, {hi_bound[0]:.1f}]")
    print(numbers)
    assert s["packets"]["lost"] == 0 and all(h["lost"] == 0 for h in s["handovers"]), numbers
    # within one packet (the send grid's phase) of rate x outage, every handover
    assert np.all(np.abs(np.array(lost) - np.array(predicted)) <= 1.0 + 1e-9), numbers
    assert all(lo - 1 <= x <= hi + 1 for x, lo, hi in zip(lost, lo_bound, hi_bound)), numbers
    assert m["loss_causes"]["coa_gone"] == m["packets"]["lost"], numbers


def test_not_enough_overlap_costs_sigma_too():
    """The claim needs enough overlap: with overlap below setup + 2 RTT + guard the plan is
    hard and SIGMA-SN loses packets as well (so the test above can fail)."""
    timing = Timing(l2_s=0.05, ra_s=0.05, dad_s=1.0, terrestrial_one_way_s=TERRESTRIAL_S)
    s = simulate(chain_replay(3, timing, overlap_s=1.0), cbr(seed=4))
    numbers = f"hard handovers: lost {[h['lost'] for h in s['handovers']]}"
    print(numbers)
    assert all(not h["feasible"] for h in s["handovers"]), numbers
    assert all(h["lost"] > 0 for h in s["handovers"]), numbers


# -- claim 3: Mobile IP's one-way latency carries the triangle detour ---------------------

def test_mobile_ip_one_way_latency_exceeds_sigma_by_the_triangle_detour():
    timing = Timing(terrestrial_one_way_s=TERRESTRIAL_S)
    replay = chain_replay(4, timing)
    xs, diffs = [], []
    for ha_one_way_s in (0.020, 0.050, 0.100):
        mip = MipConfig(ha_cn_s=ha_one_way_s, ha_ap_s=ha_one_way_s)
        doc = compare_replay(replay, cbr(), mip)
        t = {r["metric"]: r for r in doc["table"]}
        xs.append(2 * ha_one_way_s - TERRESTRIAL_S)           # CN->HA->AP minus CN->AP
        diffs.append((t["latency_p50"]["mip"] - t["latency_p50"]["sigma"]) / 1e3)
    tunnel_s = 40 * 8 / CAPACITY_BPS                           # the IPv6-in-IPv6 header
    numbers = (f"detour (ha_cn + ha_ap - terrestrial) {xs} s\n"
               f"  p50 one-way latency MIP - SIGMA {np.round(diffs, 6)} s "
               f"(tunnel header serialisation {tunnel_s * 1e6:.0f} µs)")
    print(numbers)
    np.testing.assert_allclose(diffs, np.array(xs) + tunnel_s, atol=2e-6, err_msg=numbers)
    slope, _ = fit_slope(xs, diffs)
    assert abs(slope - 1.0) < 1e-3, numbers + f"\n  slope {slope}"


# -- sanity against a published testbed -------------------------------------------------

PUBLISHED_MIPV6_MS = 817.0     # DESIGN.md: one Linux testbed, terrestrial


def terrestrial_like(ra_min_s: float, ra_max_s: float, dad_s: float = 1.0) -> dict:
    """Mean Mobile IPv6 handover latency over 40 handovers on near-zero-range links,
    L2 50 ms, DAD 1 s, HA RTT 50 ms (25 ms each way). Passes of 100 s overlapping by 10 s,
    so that even a 10 s RA wait ends inside the handover's share of the timeline."""
    timing = Timing(terrestrial_one_way_s=TERRESTRIAL_S)
    mip = MipConfig(t_l2_s=0.05, ra_min_s=ra_min_s, ra_max_s=ra_max_s, t_dad_s=dad_s,
                    ha_ap_s=0.025, ha_cn_s=0.025)
    rep = simulate(chain_replay(40, timing, pass_s=100.0, overlap_s=10.0,
                                    range_km=1.0), cbr(rate_pps=100.0), protocol="mip",
                   mip=mip)
    lat = ho_latency_ms(rep)
    return {"mean_ms": float(lat.mean()), "min_ms": float(lat.min()),
            "max_ms": float(lat.max())}


def test_mobile_ipv6_handover_latency_is_in_the_published_regime():
    """Band asserted: the mean within a factor 2 of the published 817 ms (409-1634 ms).
    Why this band: the testbed's RA phase, L2 time and whether its DAD ran in series are
    not known to us, and the RA wait alone spans 0-1.5 s, so we check the regime
    (hundreds of ms to about a second), not the number; a factor 2 still separates it
    from RFC 4861's 3-10 s router advertisements, which the second case checks."""
    fast = terrestrial_like(0.05, 1.5)
    slow = terrestrial_like(3.0, 10.0)
    optimistic = terrestrial_like(0.05, 1.5, dad_s=0.0)
    numbers = (f"RA 0.05-1.5 s, DAD 1 s, HA RTT 50 ms: MIPv6 handover latency mean "
               f"{fast['mean_ms']:.1f} ms (min {fast['min_ms']:.1f}, max {fast['max_ms']:.1f});"
               f" published {PUBLISHED_MIPV6_MS} ms\n"
               f"same with optimistic DAD: mean {optimistic['mean_ms']:.1f} ms\n"
               f"RA 3-10 s (RFC 4861): mean {slow['mean_ms']:.1f} ms")
    print(numbers)
    band = (PUBLISHED_MIPV6_MS / 2, PUBLISHED_MIPV6_MS * 2)
    assert band[0] <= fast["mean_ms"] <= band[1], numbers
    # every single handover: at least L2 + DAD + the BU round trip, at most + the longest RA
    assert fast["min_ms"] >= 1e3 * (0.05 + 1.0 + 0.05) - 10.0, numbers
    assert fast["max_ms"] <= 1e3 * (0.05 + 1.5 + 1.0 + 0.05) + 20.0, numbers
    assert slow["mean_ms"] > band[1], numbers
    # our model runs DAD in series; the published figure falls between that and optimistic
    # DAD, as it would if the testbed's DAD overlapped the rest in part
    assert optimistic["mean_ms"] < PUBLISHED_MIPV6_MS < fast["mean_ms"], numbers


# -- sanity anchors: MIPv6 ~ 817 ms and FMIPv6 ~ 273 ms in terrestrial WLAN settings -----

PUBLISHED_FMIPV6_MS = 273.0
#: The published figures (DESIGN.md) come from a Linux 802.11b testbed comparing Mobile
#: IPv6 with Fast Handovers: A. Cabellos-Aparicio et al., "Evaluation of the Fast
#: Handover Implementation for Mobile IPv6 in a Real Testbed", IPOM 2005, LNCS 3751.
#: Its exact configuration is not in our hands, so the settings are the usual WLAN values
#: of that literature: an 802.11b L2 handover of 250 ms (Mishra, Shin and Arbaugh, ACM
#: CCR 33(2), 2003, measured 53-420 ms, most of it probing), unsolicited RAs every 1 s at a
#: random phase, no DAD wait (the 817 ms is below RFC 4862's 1 s DAD alone), HA 25 ms
#: each way, PAR-NAR 10 ms, near-zero radio range. Our LEO defaults differ: L2 50 ms, RA
#: every 50 ms (RFC 6275 §7.5's fast end), a satellite leg of 2-8 ms one way, and the
#: same timing for every protocol (docs/model.md).
WLAN = dict(t_l2_s=0.25, ra_min_s=1.0, ra_max_s=1.0, t_dad_s=0.0, ha_ap_s=0.025,
            ha_cn_s=0.025, par_nar_s=0.010)


def test_published_wlan_handover_latencies_within_ten_percent():
    timing = Timing(l2_s=WLAN["t_l2_s"], ra_s=WLAN["ra_max_s"], dad_s=WLAN["t_dad_s"],
                    terrestrial_one_way_s=TERRESTRIAL_S)
    replay = chain_replay(100, timing, pass_s=100.0, overlap_s=10.0, range_km=1.0)
    mean = {}
    for protocol in ("mip", "fmip"):
        rep = simulate(replay, cbr(rate_pps=100.0), protocol=protocol, mip=MipConfig(**WLAN))
        mean[protocol] = float(ho_latency_ms(rep).mean())
    numbers = (f"WLAN settings {WLAN}: MIPv6 {mean['mip']:.1f} ms (published "
               f"{PUBLISHED_MIPV6_MS}), FMIPv6 {mean['fmip']:.1f} ms (published "
               f"{PUBLISHED_FMIPV6_MS})")
    print(numbers)
    assert mean["mip"] == pytest.approx(PUBLISHED_MIPV6_MS, rel=0.10), numbers
    assert mean["fmip"] == pytest.approx(PUBLISHED_FMIPV6_MS, rel=0.10), numbers


# -- the same claims on a real plan: Iridium-like over Boulder, planned by the planner ---

MAX_SLANT_KM = 2465.0        # DESIGN.md: 780 km altitude, 8.2° mask
ALTITUDE_KM = 780.0
REAL_RATE_PPS = 20.0


@pytest.fixture(scope="module")
def iridium():
    """The shipped Iridium-like router scenario, its window cut to 1 h."""
    import tempfile
    from pathlib import Path

    from sigma_sn.scenario import load_scenario
    from tests.test_cli_compare import short_scenario

    with tempfile.TemporaryDirectory() as tmp:
        yield load_scenario(short_scenario(Path(tmp), duration_s=3600))


@pytest.fixture(scope="module")
def iridium_plan(iridium):
    from sigma_sn.planner.plan import plan_scenario

    return plan_scenario(iridium)


def test_real_plan_sigma_loses_nothing_mobile_ip_loses_rate_times_outage(iridium_plan):
    from sigma_sn.compare import compare_plan
    from sigma_sn.sim.fromplan import config_from_plan

    cfg, mip = config_from_plan(iridium_plan, rate_pps=REAL_RATE_PPS)
    doc = compare_plan(iridium_plan, cfg, mip)
    s, m = doc["reports"]["sigma"], doc["reports"]["mip"]
    cands = iridium_plan["mobiles"][0]["candidates"]

    def los_of(ap, t_s):
        return next(c["los_s"] for c in cands if c["ap"] == ap and c["aos_s"] <= t_s
                    <= c["los_s"])

    lost, predicted = [], []
    for h in m["handovers"]:
        binding = h["cn_switch_s"] + mip.ha_cn_s
        # at its LOS the old satellite is at the mask, at the longest slant range
        outage = binding - los_of(h["from"], h["t_s"]) + mip.ha_ap_s + MAX_SLANT_KM / C_KM_S
        lost.append(h["lost"])
        predicted.append(REAL_RATE_PPS * outage)
    t = {r["metric"]: r for r in doc["table"]}
    numbers = (f"Iridium-like, Boulder, 1 h, {len(lost)} handovers, {REAL_RATE_PPS} pkt/s\n"
               f"  SIGMA-SN lost {t['packets_lost']['sigma']}, handover latency mean "
               f"{t['handover_latency_mean']['sigma']} max {t['handover_latency_max']['sigma']}"
               f" ms\n  Mobile IP lost per handover {lost}\n"
               f"  predicted rate x outage {np.round(predicted, 2)}\n"
               f"  Mobile IP handover latency mean {t['handover_latency_mean']['mip']} ms; "
               f"one-way p50 SIGMA {t['latency_p50']['sigma']} MIP {t['latency_p50']['mip']}")
    print(numbers)
    assert lost and all(h["feasible"] for h in iridium_plan["handovers"]), numbers
    assert s["packets"]["lost"] == 0, numbers
    # the packet grid's phase: within one packet, and the range at LOS within a few ms
    assert np.all(np.abs(np.array(lost) - np.array(predicted)) <= 1.0 + 1e-9), numbers
    # SIGMA-SN's gap: one packet interval plus at most the two paths' delay difference
    spread_ms = (MAX_SLANT_KM - ALTITUDE_KM) / C_KM_S * 1e3
    assert t["handover_latency_max"]["sigma"] <= 1e3 / REAL_RATE_PPS + spread_ms, numbers
    # the triangle: HA legs instead of the terrestrial one, give or take where in a pass
    # each protocol's medians fall (bounded by the slant-range spread)
    detour_ms = (mip.ha_cn_s + mip.ha_ap_s - cfg.terrestrial_s) * 1e3
    diff = t["latency_p50"]["mip"] - t["latency_p50"]["sigma"]
    assert abs(diff - detour_ms) <= spread_ms, numbers + f"\n  detour {detour_ms} ms"


def test_real_plan_sweep_of_dad_sigma_flat_mobile_ip_slope_one(iridium):
    from sigma_sn.sweep import parse_param, run_sweep

    values = (0.0, 1.0, 2.0)
    rows = run_sweep(iridium, [parse_param("timing.dad_s=" + ",".join(map(str, values)))],
                     rate_pps=REAL_RATE_PPS)
    got = {(r["value"], r["protocol"], r["metric"]): r["result"] for r in rows}
    sig = [got[(str(v), "sigma", "handover_latency_mean")] for v in values]
    mip = [got[(str(v), "mip", "handover_latency_mean")] for v in values]
    sig_lost = [got[(str(v), "sigma", "packets_lost")] for v in values]
    slope, _ = fit_slope(values, np.array(mip) / 1e3)
    numbers = (f"Iridium-like, DAD {values} s: SIGMA-SN handover latency {sig} ms, lost "
               f"{sig_lost}; Mobile IP {mip} ms, slope {slope:.3f}")
    print(numbers)
    assert sig_lost == [0, 0, 0] and max(sig) - min(sig) <= 1.0, numbers
    # DAD is deterministic: only the RA phase (30-70 ms) and the 50 ms packet grid blur it
    assert abs(slope - 1.0) <= 0.05, numbers
