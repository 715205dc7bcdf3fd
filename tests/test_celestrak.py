"""CelesTrak element sets with a cache, against a loopback HTTP server this test starts:
downloads, the two-hour rule, If-Modified-Since and 304, redirects, refusals (403, 429),
a cut-off body, a timeout and junk; a bad answer never replaces a good cache. No test here
touches the internet."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from sigma_sn.celestrak import FetchWarning, fetch
from sigma_sn.cli import main
from sigma_sn.elements import read_tle, write_omm_json, write_tle
from sigma_sn.errors import InputError

from conftest import REPO

T0 = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)
LAST_MODIFIED = "Sat, 22 Aug 2026 11:00:00 GMT"
TIMEOUT_S = 0.3


@pytest.fixture(scope="module")
def bodies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bodies")
    sats = read_tle(REPO / "tle_data" / "iridium_like.tle")
    write_omm_json(folder / "a.json", sats)
    write_tle(folder / "a.tle", sats)
    return {"json": (folder / "a.json").read_bytes(), "3le": (folder / "a.tle").read_bytes()}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, dict(self.headers)))
        query = parse_qs(urlparse(self.path).query)
        body = server.bodies[query["FORMAT"][0]]
        mode = server.mode
        if mode == "redirect" and "hop" not in query:
            self.send_response(302)
            self.send_header("Location", self.path + "&hop=1")
            self.end_headers()
            return
        if mode in ("forbidden", "busy"):
            self.send_response(403 if mode == "forbidden" else 429)
            self.end_headers()
            return
        if mode == "slow":
            time.sleep(5 * TIMEOUT_S)
        if mode in ("ok", "redirect") and self.headers.get("If-Modified-Since") == LAST_MODIFIED:
            self.send_response(304)
            self.end_headers()
            return
        if mode == "junk":
            body = b"No GP data found\n"
        self.send_response(200)
        self.send_header("Last-Modified", LAST_MODIFIED)
        self.send_header("Content-Length", str(len(body) + (1000 if mode == "cut" else 0)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if mode == "cut" else body)


@pytest.fixture()
def server(bodies):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.bodies, srv.requests, srv.mode = bodies, [], "ok"
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/NORAD/elements/gp.php"
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(server, cache, hours_after=0.0, **kw):
    return fetch("iridium", cache_dir=cache, base_url=server.url, timeout_s=TIMEOUT_S,
                 now=T0 + timedelta(hours=hours_after), **kw)


def test_download_then_at_most_one_request_per_two_hours_then_if_modified_since(
        server, tmp_path, bodies):
    first = get(server, tmp_path)
    assert first.status == "downloaded" and first.path.read_bytes() == bodies["json"]
    assert first.path.suffix == ".json" and first.downloaded_utc == "2026-08-22T12:00:00Z"
    meta = json.loads(first.path.with_name(first.path.name + ".meta.json").read_text())
    assert meta["downloaded_utc"] == "2026-08-22T12:00:00Z"
    (path, headers), = server.requests
    assert "GROUP=iridium" in path and "FORMAT=json" in path
    assert "If-Modified-Since" not in headers

    assert get(server, tmp_path, 1.9).status == "recent"
    assert len(server.requests) == 1  # not asked again within two hours

    again = get(server, tmp_path, 2.5)
    assert again.status == "not-modified" and again.downloaded_utc == first.downloaded_utc
    assert server.requests[-1][1]["If-Modified-Since"] == LAST_MODIFIED
    assert get(server, tmp_path, 4.0).status == "recent"  # the 304 counts as a check
    assert len(server.requests) == 2


def test_redirects_are_followed_and_tle_is_offered(server, tmp_path, bodies):
    server.mode = "redirect"
    got = get(server, tmp_path, fmt="tle")
    assert got.status == "downloaded" and got.path.read_bytes() == bodies["3le"]
    assert [p.endswith("hop=1") for p, _ in server.requests] == [False, True]
    assert "FORMAT=3le" in server.requests[0][0]


@pytest.mark.parametrize("mode, cause", [
    ("forbidden", "HTTP 403"), ("busy", "HTTP 429"), ("cut", "the download was cut off"),
    ("slow", "timed out"), ("junk", "what arrived is not element sets")])
def test_a_failed_download_keeps_the_good_cache_and_warns(server, tmp_path, bodies, mode,
                                                          cause):
    good = get(server, tmp_path)
    server.mode = mode
    with pytest.warns(FetchWarning, match=cause) as record:
        got = get(server, tmp_path, 3.0)
    assert "using the cached copy downloaded 2026-08-22T12:00:00Z" in str(record[0].message)
    assert got.status == "stale" and got.path == good.path
    assert got.path.read_bytes() == bodies["json"]
    leftovers = [p.name for p in got.path.parent.iterdir()]
    assert sorted(leftovers) == ["iridium.json", "iridium.json.meta.json"], leftovers


@pytest.mark.parametrize("mode, cause", [("forbidden", "HTTP 403"), ("junk", "not element")])
def test_without_a_cache_a_failure_is_an_error(server, tmp_path, mode, cause):
    server.mode = mode
    with pytest.raises(InputError, match=f"could not download CelesTrak group 'iridium'.*"
                                         f"{cause}.*no cached copy"):
        get(server, tmp_path)
    assert not (tmp_path / "celestrak" / "iridium.json").exists()


def test_celestrak_names_work_wherever_an_element_file_does(server, tmp_path, monkeypatch,
                                                            capsys):
    monkeypatch.setenv("SIGMA_SN_CELESTRAK_URL", server.url)
    monkeypatch.setenv("SIGMA_SN_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["fetch", "celestrak", "iridium"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(tmp_path / "cache" / "celestrak" / "iridium.json")
    assert "iridium: downloaded" in out.err
    assert main(["windows", "--tle", "celestrak:iridium", "--site", "Boulder=40,-105",
                 "--start", "2026-08-22T00:00:00Z", "--hours", "2",
                 "--out", str(tmp_path / "w.csv")]) == 0
    assert "IRIDIUM-LIKE" in (tmp_path / "w.csv").read_text()
    (tmp_path / "s.toml").write_text('elements = ["celestrak:iridium"]\n[[sites]]\n'
                                     'name = "Boulder"\nlat_deg = 40.0\nlon_deg = -105.0\n'
                                     '[window]\nstart_utc = "2026-08-22T00:00:00Z"\n'
                                     'duration_s = 3600\n')
    from sigma_sn.scenario import load_scenario
    sc = load_scenario(tmp_path / "s.toml")
    assert sc.element_files == (tmp_path / "cache" / "celestrak" / "iridium.json",)
