"""Windows to and from CSV and JSON, atomically and in a stable order."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sigma_sn.atomic import write_text
from sigma_sn.visibility import COLUMNS, Windows


def windows_csv(windows: Windows) -> str:
    """Return the windows as CSV text with the header :data:`COLUMNS`."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in windows.rows():
        w.writerow({**row, "aos_truncated": str(row["aos_truncated"]).lower(),
                    "los_truncated": str(row["los_truncated"]).lower(),
                    "max_elev_deg": f"{row['max_elev_deg']:.6f}",
                    "duration_s": f"{row['duration_s']:.6f}"})
    return buf.getvalue()


def windows_json(windows: Windows) -> str:
    """Return ``{"windows": [...]}`` with the keys of :data:`COLUMNS`."""
    return json.dumps({"windows": windows.rows()}, indent=1, sort_keys=False) + "\n"


def write_windows(path, windows: Windows) -> None:
    """Write windows to ``path`` (``.csv`` or ``.json``) atomically."""
    text = windows_json(windows) if Path(path).suffix == ".json" else windows_csv(windows)
    write_text(path, text)


def read_windows_csv(path) -> list[dict]:
    """Read a windows CSV back into rows typed like :meth:`Windows.rows`."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append({**r, "norad_id": int(r["norad_id"]),
                         "max_elev_deg": float(r["max_elev_deg"]),
                         "duration_s": float(r["duration_s"]),
                         "aos_truncated": r["aos_truncated"] == "true",
                         "los_truncated": r["los_truncated"] == "true"})
    return rows
