"""Verify the app role on a converged host: its service, config, and HTTP answers."""

import json


def test_service_account_has_no_login(host):
    user = host.user("app")
    assert user.shell == "/usr/sbin/nologin"


def test_code_is_in_place(host):
    code = host.file("/opt/app/app.py")
    assert code.mode == 0o755
    assert "ThreadingHTTPServer" in code.content_string


def test_config_is_readable_by_the_app_only(host):
    config = host.file("/etc/app/config.json")
    assert config.user == "app"
    assert config.mode == 0o600
    data = json.loads(config.content_string)
    assert data["port"] == 8080
    assert data["version"] == "1.0.0"
    assert data["host"] == host.backend.get_hostname()
    assert data["token"]  # from the signed secrets; its value is never printed


def test_app_is_enabled_and_running(host):
    app = host.service("app")
    assert app.is_enabled
    assert app.is_running


def test_app_answers_on_its_port(host):
    assert host.socket("tcp://127.0.0.1:8080").is_listening
    health = json.loads(host.check_output("curl -sf http://127.0.0.1:8080/healthz"))
    assert health == {"status": "ok", "version": "1.0.0"}
    page = json.loads(host.check_output("curl -sf http://127.0.0.1:8080/"))
    assert page["message"] == "hello from the lab"
