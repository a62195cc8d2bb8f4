"""Verify the nginx role on a converged host (`orc test nginx`, or molecule's testinfra)."""

# the role installs no HTTP client; python3 is on every host orc manages
GET = ("python3 -c 'import http.client as h; c = h.HTTPConnection(\"127.0.0.1\", 80, timeout=5); "
       "c.request(\"GET\", \"/\"); r = c.getresponse(); print(r.status, r.getheader(\"Server\"))'")


def test_nginx_light_is_installed(host):
    assert host.package("nginx-light").is_installed


def test_nginx_is_enabled_and_running(host):
    nginx = host.service("nginx")
    assert nginx.is_enabled
    assert nginx.is_running


def test_site_proxies_to_the_app_port(host):
    site = host.file("/etc/nginx/sites-available/default")
    assert site.mode == 0o644
    assert "listen 80 default_server;" in site.content_string
    assert "proxy_pass http://127.0.0.1:8080;" in site.content_string
    assert "location = /healthz" in site.content_string


def test_configuration_is_valid(host):
    assert host.run("nginx -t").rc == 0


def test_port_80_answers_as_nginx(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening
    status, server = host.check_output(GET).split(" ", 1)
    # without the app behind it (its own scenario), nginx itself answers: a bad gateway
    assert status in {"200", "502"}
    assert server.startswith("nginx")
