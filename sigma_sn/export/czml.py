"""CZML, Cesium's time-dynamic scene format: satellites, sites and serving links.

You get a document packet first (name, version "1.0", a clock spanning the run), then
one packet per satellite with its position sampled in metres in Cesium's ``FIXED``
frame (Earth-fixed, i.e. our ITRS) as ``[t, x, y, z, ...]`` with ``t`` in seconds after
the packet's ``epoch``, then one packet per site, then one polyline packet per
(site, satellite) link that is shown only during its ``availability`` intervals.
Positions are rounded to ``ROUND_M`` and keys are sorted, so the same input gives the
same bytes.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from sigma_sn.atomic import write_text
from sigma_sn.sites import itrs_km

#: decimals kept in positions (metres): 1 mm, far below what SGP4 knows
ROUND_M = 3
#: decimals kept in sample times (seconds)
ROUND_S = 6

_SAT_COLOUR = [255, 200, 40, 255]
_SITE_COLOUR = [80, 200, 255, 255]
_LINK_COLOUR = [60, 255, 120, 255]


def sat_id(norad_id: int | None, name: str) -> str:
    """Return the packet id of a satellite (by catalogue number when it has one)."""
    return f"sat/{norad_id}" if norad_id is not None else f"sat/{name}"


def site_id(name: str) -> str:
    """Return the packet id of a site."""
    return f"site/{name}"


def czml_packets(ephemeris, names, norad_ids=None, sites=(), *, access=(),
                 document_name: str = "sigma-sn", clock_multiplier: float = 60.0,
                 interpolation_degree: int = 5) -> list[dict]:
    """Return CZML packets for an ephemeris, sites and serving links.

    ``names`` (and ``norad_ids``, optional) follow the ephemeris' satellite order;
    ``sites`` are :class:`~sigma_sn.sites.Site` objects; ``access`` is an iterable of
    ``(site_name, sat_name, start_s, end_s)`` intervals (seconds after the start) during
    which a line joins the site and the satellite. Samples SGP4 could not compute are
    left out, and a satellite is ``available`` only from its first to last good sample.
    """
    names = list(names)
    n_sat = ephemeris.pos_itrs_km.shape[0]
    if len(names) != n_sat:
        raise ValueError(f"{len(names)} names for {n_sat} satellites")
    ids = list(norad_ids) if norad_ids is not None else [None] * n_sat
    epoch = ephemeris.epoch
    t_s = np.asarray(ephemeris.t_s, float)
    t0, t1 = (float(t_s[0]), float(t_s[-1])) if len(t_s) else (0.0, 0.0)
    start_iso, end_iso = (str(s) for s in epoch.iso([t0, t1]))
    packets: list[dict] = [{
        "id": "document",
        "name": document_name,
        "version": "1.0",
        "clock": {"interval": f"{start_iso}/{end_iso}", "currentTime": start_iso,
                  "multiplier": clock_multiplier, "range": "LOOP_STOP",
                  "step": "SYSTEM_CLOCK_MULTIPLIER"},
    }]
    by_name: dict[str, str] = {}
    for i in range(n_sat):
        pos_m = ephemeris.pos_itrs_km[i] * 1000.0
        good = np.all(np.isfinite(pos_m), axis=1)
        if not np.any(good):
            continue
        samples = np.column_stack([np.round(t_s[good] - t0, ROUND_S),
                                   np.round(pos_m[good], ROUND_M)])
        first, last = (str(s) for s in epoch.iso([t_s[good][0], t_s[good][-1]]))
        pid = sat_id(ids[i], names[i])
        by_name[names[i]] = pid
        packet = {
            "id": pid,
            "name": names[i],
            "availability": f"{first}/{last}",
            "position": {
                "epoch": start_iso,
                "referenceFrame": "FIXED",
                "interpolationAlgorithm": "LAGRANGE",
                "interpolationDegree": interpolation_degree,
                "cartesian": [float(v) + 0.0 for v in samples.ravel()],
            },
            "point": {"pixelSize": 6, "color": {"rgba": _SAT_COLOUR}},
            "label": {"text": names[i], "font": "11px sans-serif", "show": False},
            "path": {"show": False, "width": 1, "leadTime": 0, "trailTime": 1800,
                     "material": {"solidColor": {"color": {"rgba": _SAT_COLOUR}}}},
        }
        if ids[i] is not None:
            packet["properties"] = {"norad_id": int(ids[i])}
        packets.append(packet)
    site_ids: dict[str, str] = {}
    if len(sites):
        xyz_m = itrs_km(sites) * 1000.0
        for site, xyz in zip(sites, xyz_m):
            site_ids[site.name] = site_id(site.name)
            packets.append({
                "id": site_id(site.name),
                "name": site.name,
                "position": {"cartesian": [round(float(v), ROUND_M) + 0.0 for v in xyz]},
                "point": {"pixelSize": 8, "color": {"rgba": _SITE_COLOUR}},
                "label": {"text": site.name, "font": "12px sans-serif"},
            })
    packets.extend(_links(access, site_ids, by_name, epoch))
    return packets


def _links(access, site_ids, sat_ids, epoch) -> list[dict]:
    """One polyline packet per (site, satellite), shown during each access interval."""
    spans: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for site_name, sat_name, start_s, end_s in access:
        if site_name not in site_ids:
            raise ValueError(f"access interval names site {site_name!r}, which is not "
                             f"among the sites given")
        if sat_name not in sat_ids:
            raise ValueError(f"access interval names satellite {sat_name!r}, which is not "
                             f"in the ephemeris")
        if not end_s > start_s:
            raise ValueError(f"access interval {site_name!r}–{sat_name!r} ends at "
                             f"{end_s} s, not after its start {start_s} s")
        spans[(site_name, sat_name)].append((float(start_s), float(end_s)))
    packets = []
    for (site_name, sat_name), intervals in sorted(spans.items()):
        intervals.sort()
        isos = [f"{a}/{b}" for a, b in (epoch.iso([s, e]) for s, e in intervals)]
        packets.append({
            "id": f"link/{site_ids[site_name]}/{sat_ids[sat_name]}",
            "name": f"{site_name} – {sat_name}",
            "availability": isos if len(isos) > 1 else isos[0],
            "polyline": {
                "positions": {"references": [f"{site_ids[site_name]}#position",
                                             f"{sat_ids[sat_name]}#position"]},
                "width": 2, "arcType": "NONE",
                "material": {"solidColor": {"color": {"rgba": _LINK_COLOUR}}},
            },
        })
    return packets


def dumps_czml(packets: list[dict]) -> str:
    """Return CZML text: a JSON array, packets in order, sorted keys (byte-stable)."""
    return json.dumps(packets, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def write_czml(path, packets: list[dict]) -> None:
    """Write CZML packets to ``path`` atomically."""
    write_text(path, dumps_czml(packets))
