#!/usr/bin/env python3
"""The example app: answers / with its version and message, and /healthz with its health.

A config with "healthy": false makes /healthz answer 503, which is how a bad release looks to
orc's health checks.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONFIG = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "/etc/app/config.json"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            healthy = CONFIG.get("healthy", True)
            body = {"status": "ok" if healthy else "unhealthy", "version": CONFIG["version"]}
            self._send(200 if healthy else 503, body)
        else:
            self._send(200, {"host": CONFIG["host"], "version": CONFIG["version"],
                             "message": CONFIG["message"]})

    def _send(self, code, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", CONFIG["port"]), Handler).serve_forever()
