"""Per handover: the real stack's interruption next to the SimPy replay's.

The replay is reached only through its public API (``sigma_sn.sim.config_from_plan``,
``replays_from_plan``, ``simulate_plan``), run with the emulation's traffic (CBR up, same
rate and size) and the emulation's timing block for Mobile IP, so both sides of a row
ran under the same assumptions except where docs/emulate.md says they differ.
"""

from __future__ import annotations

#: the replay's per-handover field this table quotes: its rate-independent service
#: interruption (docs/model.md), the name the emulation's own metric carries too
REPLAY_INTERRUPTION_KEY = "interruption_ms"


def replay_interruptions(plan: dict, *, mobile: str, protocols, rate_pps: float,
                         payload_bytes: int, timing, plan_dir: str = ".",
                         source: str = "plan") -> dict:
    """``{protocol: {handover index: ms or None}}`` from the SimPy replay of ``plan``."""
    from sigma_sn.sim import config_from_plan, replays_from_plan, simulate_plan

    cfg, mip = config_from_plan(
        plan, source=source, traffic="cbr", direction="up", rate_pps=rate_pps,
        payload_bytes=payload_bytes,
        # Mobile IP under the emulation's timing block (DESIGN.md: comparisons on
        # equal terms): its RA interval, not the replay's default 30-70 ms (the replay
        # still waits a seeded phase of it, the emulation the whole interval)
        t_l2_s=timing.l2_s, ra_min_s=timing.ra_s, ra_max_s=timing.ra_s,
        t_dad_s=timing.dad_s)
    replays = replays_from_plan(plan, plan_dir=plan_dir, mobiles=[mobile], source=source)
    out = {}
    for protocol in protocols:
        report = simulate_plan(plan, cfg, protocol=protocol, mip=mip, replays=replays,
                               source=source)
        out[protocol] = {h["index"]: h.get(REPLAY_INTERRUPTION_KEY)
                         for h in report["handovers"] if h["mobile"] == mobile}
    return out


def table_rows(runs: list[dict], replay: dict | None) -> list[dict]:
    """One row per handover any run made: emulated and (if given) replayed numbers."""
    rows: dict[int, dict] = {}
    for r in runs:
        for h in r["handovers"]:
            row = rows.setdefault(h["index"], {
                "index": h["index"], "from": h["from"], "to": h["to"], "t_s": h["t_s"],
                "emulated_ms": {}, "replay_ms": {}})
            row["emulated_ms"][r["protocol"]] = h["interruption_ms"]
            if replay is not None:
                row["replay_ms"][r["protocol"]] = replay.get(r["protocol"], {}).get(
                    h["index"])
    return [rows[k] for k in sorted(rows)]


def format_table(rows: list[dict], protocols, start_s: float) -> str:
    def ms(x):
        return "-" if x is None else f"{x:.1f}"

    head = f"{'#':>3}  {'t_s':>9}  {'from -> to':<44}"
    for p in protocols:
        head += f"  {p + ' emulated':>14}  {p + ' replay':>12}"
    lines = [head + "   (interruption, ms)"]
    for r in rows:
        line = (f"{r['index']:>3}  {r['t_s'] + start_s:>9.1f}  "
                f"{r['from'] + ' -> ' + r['to']:<44}")
        for p in protocols:
            line += (f"  {ms(r['emulated_ms'].get(p)):>14}  "
                     f"{ms(r['replay_ms'].get(p)):>12}")
        lines.append(line)
    return "\n".join(lines)
