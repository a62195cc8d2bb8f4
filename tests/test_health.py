"""Health checks against real servers on loopback: HTTP status and body, TCP, retries."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from orchestrator.errors import InputError
from orchestrator.load.policy import parse_checks, parse_duration
from orchestrator.rollout.health import check_hosts, run_check
from orchestrator.templating.render import Variables


class _Flaky(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []

    def do_GET(self):
        code = self.answers.pop(0) if self.answers else 200
        body = b'{"status": "ok"}' if code == 200 else b"down"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()


def no_commands(host, command, timeout):
    raise AssertionError("no command checks here")


def test_http_check_passes_after_retries(server) -> None:
    _Flaky.answers = [503, 503]
    [check] = parse_checks([{"http": "http://{{ addr }}/healthz", "retries": 2,
                             "interval": "10ms", "body": '"status": "ok"'}], {})
    result = run_check(check, "h1", Variables({"addr": f"127.0.0.1:{server.server_port}"}),
                       no_commands)
    assert result.ok and result.attempts == 3


def test_http_check_fails_with_the_status_it_saw(server) -> None:
    _Flaky.answers = [503] * 5
    [check] = parse_checks([{"http": f"http://127.0.0.1:{server.server_port}/", "retries": 1,
                             "interval": 0.01}], {})
    result = run_check(check, "h1", Variables({}), no_commands)
    assert not result.ok and result.attempts == 2
    assert "status 503, expected 200" in result.detail


def test_tcp_check_open_and_closed(server) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    checks = parse_checks([{"tcp": f"127.0.0.1:{server.server_port}"}], {})
    bad = parse_checks([{"tcp": f"127.0.0.1:{port}", "retries": 0}], {})
    results = check_hosts(checks + bad, ["h1"], lambda h: Variables({}), no_commands)
    assert [r.ok for r in results["h1"]] == [True, False]


def test_command_checks_go_through_the_runner() -> None:
    seen = []

    def runner(host, command, timeout):
        seen.append((host, command))
        return host == "good", f"{command} on {host}"

    checks = parse_checks([{"command": "systemctl is-active {{ unit }}", "retries": 0}], {})
    results = check_hosts(checks, ["good", "bad"], lambda h: Variables({"unit": "nginx"}), runner)
    assert {h: r[0].ok for h, r in results.items()} == {"good": True, "bad": False}
    assert sorted(seen) == [("bad", "systemctl is-active nginx"),
                            ("good", "systemctl is-active nginx")]


def test_bad_checks_are_refused_with_the_nearest_key() -> None:
    with pytest.raises(InputError, match="unknown key 'retires' \\(did you mean 'retries'\\?\\)"):
        parse_checks([{"http": "http://x/", "retires": 3}], {})
    with pytest.raises(InputError, match="exactly one of"):
        parse_checks([{"http": "http://x/", "tcp": "x:1"}], {})


def test_durations() -> None:
    assert parse_duration("30s", {}) == 30
    assert parse_duration("2m", {}) == 120
    assert parse_duration("250ms", {}) == 0.25
    assert parse_duration(5, {}) == 5
    with pytest.raises(InputError, match="bake 'soon'"):
        parse_duration("soon", {}, "bake")
