"""The highest satellite against the least-delay one at each step (sigma_sn.path.penalty),
held against a brute-force look at every window in view."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO
from sigma_sn.geometry import look_angles, subpoint_deg
from sigma_sn.path.penalty import direction_table, step_choices
from sigma_sn.planner.plan import scenario_paths, scenario_windows
from sigma_sn.propagate import propagate
from sigma_sn.scenario import load_scenario

SHORT = 300


@pytest.fixture(scope="module")
def lisbon(tmp_path_factory):
    text = (REPO / "scenarios" / "isl-lisbon-newyork.toml").read_text()
    assert "duration_s = 1800" in text
    text = text.replace("duration_s = 1800", f"duration_s = {SHORT}")
    text = text.replace('"../tle_data/', f'"{(REPO / "tle_data").as_posix()}/')
    text = text.replace('"sites/', f'"{(REPO / "scenarios" / "sites").as_posix()}/')
    p = tmp_path_factory.mktemp("lisbon") / "lisbon.toml"
    p.write_text(text)
    sc = load_scenario(p)
    sw = scenario_windows(sc)
    paths = scenario_paths(sc, sw)
    return sw, paths, step_choices(paths, list(sw.satellites), sw.sites[0])


def test_highest_and_best_match_a_look_at_every_window_in_view(lisbon):
    sw, paths, c = lisbon
    w = paths.windows
    sats = list(sw.satellites)
    assert len(c.t_s) == SHORT + 1
    for k in range(0, SHORT + 1, 37):
        t = k * paths.step_s
        # in view: the path stage has a sample of the window at this step
        inview = [i for i in range(len(w)) if paths.first_step[i] <= k
                  < paths.first_step[i] + paths.offset[i + 1] - paths.offset[i]]
        eph = propagate([sats[w.sat[i]].satrec for i in inview], w.epoch, [t])
        elev = look_angles(eph, sw.sites[:1]).elev_deg[:, 0, 0]
        assert c.highest[k] == inview[int(np.argmax(elev))]
        assert c.highest_elev_deg[k] == pytest.approx(elev.max(), abs=1e-6)
        rtt = np.array([2 * paths.delay_ms_at(i, t) for i in inview], float)
        assert c.best_rtt_ms[k] == pytest.approx(np.nanmin(rtt))
        assert c.highest_rtt_ms[k] == pytest.approx(rtt[int(np.argmax(elev))])
        # northbound: the sub-point's latitude grows over the next second
        i = c.highest[k]
        two = propagate([sats[w.sat[i]].satrec], w.epoch, [t, t + 1.0])
        lat, _ = subpoint_deg(two.pos_itrs_km[0])
        assert bool(c.highest_northbound[k]) == bool(lat[1] > lat[0])
    # the best is never worse than the highest
    assert np.all(c.penalty_ms[np.isfinite(c.penalty_ms)] >= 0)


def test_direction_table_splits_the_steps_by_the_highest_satellites_direction(lisbon):
    _, _, c = lisbon
    rows = {r["case"]: r for r in direction_table(c)}
    assert rows["highest northbound"]["share"] + rows["highest southbound"]["share"] == \
        pytest.approx(1.0)
    north = c.penalty_ms[c.highest_northbound & np.isfinite(c.penalty_ms)]
    if north.size:
        assert rows["highest northbound"]["median_ms"] == pytest.approx(np.median(north))
    assert rows["all"]["median_ms"] == pytest.approx(np.nanmedian(c.penalty_ms))
