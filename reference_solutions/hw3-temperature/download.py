"""Download the real daily mean temperature history of Budapest into a plain CSV.

Two public sources, no account needed:
- `open-meteo` (default): the Open-Meteo historical weather API (ERA5 reanalysis) at
  Budapest's coordinates, daily `temperature_2m_mean`;
- `meteostat`: the Meteostat bulk file of the Budapest weather station (WMO 12843), the
  `tavg` column (daily mean of the station's observations).

The data stops at the forecast origin, 2020-10-27 by default: nothing after it may be
used for training. Offline, this script stops with a clear message; use `synthetic.py`
to try the pipeline without internet.

    python download.py --out data/budapest_daily.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path

LATITUDE, LONGITUDE = 47.4979, 19.0402  # Budapest
OPEN_METEO = "https://archive-api.open-meteo.com/v1/archive"
METEOSTAT = "https://bulk.meteostat.net/v2/daily/12843.csv.gz"
TIMEOUT_SECONDS = 60


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "hw3-temperature/1.0"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        return response.read()


def from_open_meteo(start: date, end: date) -> list[tuple[date, float]]:
    query = urllib.parse.urlencode(
        {
            "latitude": LATITUDE,
            "longitude": LONGITUDE,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "daily": "temperature_2m_mean",
            "timezone": "Europe/Budapest",
        }
    )
    payload = json.loads(_get(f"{OPEN_METEO}?{query}"))
    daily = payload.get("daily") or {}
    days, values = daily.get("time", []), daily.get("temperature_2m_mean", [])
    return [
        (date.fromisoformat(d), float(v))
        for d, v in zip(days, values, strict=False)
        if v is not None
    ]


def from_meteostat(start: date, end: date) -> list[tuple[date, float]]:
    text = gzip.decompress(_get(METEOSTAT)).decode("utf-8")
    rows = []
    for row in csv.reader(io.StringIO(text)):
        # columns: date, tavg, tmin, tmax, prcp, snow, wdir, wspd, wpgt, pres, tsun
        if len(row) < 2 or not row[1]:
            continue
        day = date.fromisoformat(row[0])
        if start <= day <= end:
            rows.append((day, float(row[1])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["open-meteo", "meteostat"], default="open-meteo")
    parser.add_argument("--start", type=date.fromisoformat, default=date(1990, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2020, 10, 27))
    parser.add_argument("--out", type=Path, default=Path("data/budapest_daily.csv"))
    args = parser.parse_args()
    fetch = from_open_meteo if args.source == "open-meteo" else from_meteostat
    try:
        rows = fetch(args.start, args.end)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        sys.exit(
            f"cannot download from {args.source} ({exc}). Are you offline? "
            "Run `python synthetic.py` for synthetic data to try the pipeline."
        )
    if not rows:
        sys.exit(f"{args.source} returned no data for {args.start} .. {args.end}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        handle.write(f"# source: {args.source}, Budapest daily mean temperature\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["date", "mean_celsius"])
        writer.writerows((d.isoformat(), f"{t:.1f}") for d, t in sorted(rows))
    print(f"wrote {len(rows)} days ({rows[0][0]} .. {rows[-1][0]}) to {args.out}")


if __name__ == "__main__":
    main()
