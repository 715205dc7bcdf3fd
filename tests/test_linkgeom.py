"""Link geometry for the replay: ranges and up intervals straight from windows."""

from __future__ import annotations

import numpy as np

from sigma_sn.elements import read_tle
from sigma_sn.geometry import look_angles
from sigma_sn.propagate import propagate
from sigma_sn.sim.linkgeom import link_geometries
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
        assert g.up_s == tuple(sorted(zip(w.aos_s[sel].tolist(), w.los_s[sel].tolist())))
        la = look_angles(propagate([sats[i].satrec], w.epoch, g.t_s), site)
        assert np.max(np.abs(la.range_km[0, 0] - g.range_km)) < 1e-9
        assert g.t_s[0] <= g.up_s[0][0] and g.t_s[-1] >= min(g.up_s[-1][1], 7200.0 - 10.0)
