"""Link geometry for the replay: ranges and up intervals straight from windows."""

from __future__ import annotations

import numpy as np

from sigma_sn.elements import read_tle
from sigma_sn.geometry import look_angles
from sigma_sn.propagate import propagate
from sigma_sn.sim.linkgeom import TRUNCATED_PAD_S, link_geometries, sample_times
from sigma_sn.sites import Site
from sigma_sn.visibility import find_windows
from tests.conftest import START


def test_link_geometry_matches_look_angles_and_windows(shared_data):
    sats = read_tle(shared_data / "tle" / "iridium_next_2026-08-22.tle")[:12]
    site = [Site("Wallops", 37.92, -75.48)]
    w = find_windows(sats, site, START, 7200.0, min_elev_deg=8.2, workers=1)
    pairs = sorted({(int(i), int(j)) for i, j in zip(w.sat, w.site)})
    links = link_geometries(w, pairs, sats, site, step_s=10.0)
    assert set(links) == {sats[i].name for i, _ in pairs}
    for i, _ in pairs:
        g = links[sats[i].name]
        sel = w.sat == i
        # a window still open at the end stays up past it (its packets are in flight)
        los = np.where(w.los_truncated[sel], 7200.0 + TRUNCATED_PAD_S, w.los_s[sel])
        assert g.up_s == tuple(sorted(zip(w.aos_s[sel].tolist(), los.tolist())))
        la = look_angles(propagate([sats[i].satrec], w.epoch, g.t_s), site)
        assert np.max(np.abs(la.range_km[0, 0] - g.range_km)) < 1e-9
        assert g.t_s[0] <= g.up_s[0][0] and g.t_s[-1] >= min(g.up_s[-1][1], 7200.0 - 10.0)


def test_samples_cover_each_window_with_a_step_to_spare_and_skip_the_gaps():
    up = ((95.0, 400.0), (5000.0, 5321.5))
    t = sample_times(up, 7200.0, 10.0)
    assert t[0] == 80.0 and t[-1] == 5340.0
    assert np.all(np.diff(t) > 0) and np.all(t % 10.0 == 0)
    for a, b in up:   # every instant of a window lies between two samples at most 10 s apart
        inside = t[(t >= a - 10.0) & (t <= b + 10.0)]
        assert inside[0] <= a and inside[-1] >= b and np.max(np.diff(inside)) == 10.0
    assert not np.any((t > 420.0) & (t < 4980.0))
    assert list(sample_times((), 100.0, 10.0)) == [0.0, 10.0]
