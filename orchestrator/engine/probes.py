"""`uri` and `wait_for`: actions that ask something of the host and register what it answered.

Both run on the host itself (its python3, which Ansible needs there too), one command per task,
and report as ansible-core 2.19 documents them (`ansible-doc uri`, `ansible-doc wait_for`): uri
registers `status`, `url`, `msg`, the response headers (lower case, `-` as `_`), `content` and
`json` when asked, and fails when the status is not one of `status_code`; wait_for fails after
`timeout` seconds with its message ("Timeout when waiting for 127.0.0.1:22", or `msg`).

Neither changes the host itself: uri's `dest` is written by a `files.put` of the body the request
returned, an operation the engine adds in the task's place (`Outcome.calls`), so the journal
holds the file's pre-image and `orc rollback` puts it back. Ansible reports such a task changed
whenever it writes (even the same bytes), so the put is forced; a new file gets 0644 (Ansible's
0666 less the umask), an existing one keeps its mode and owner. Neither module supports check
mode in Ansible, so `orc plan` skips both without touching the host, as Ansible's check mode does.
"""

from __future__ import annotations

import base64
import io
import json
import posixpath
import shlex
from typing import Any
from urllib.parse import urlsplit

from pyinfra.facts.files import Directory, File
from pyinfra.operations import files

from orchestrator.engine.actions import ActionContext, Outcome
from orchestrator.modules.base import FilePreview, OpCall
from orchestrator.engine.results import CHANGED, FAILED, OK, SKIPPED

# Run by the host's python3 with the task's arguments as base64 JSON; prints one JSON line.
_URI = r'''
import base64, json, os, sys, time, urllib.request, urllib.error
a = json.loads(base64.b64decode(sys.argv[1]))
start = time.time()
body = a["body"]
if body is not None:
    body = body.encode() if isinstance(body, str) else body
req = urllib.request.Request(a["url"], data=body, method=a["method"], headers=a["headers"])
req.add_header("User-Agent", a["agent"])
if a["dest"] and not a["force"] and os.path.isfile(a["dest"]):
    # as Ansible does: the server may answer 304, which is not a 200
    import email.utils
    req.add_header("If-Modified-Since",
                   email.utils.formatdate(os.path.getmtime(a["dest"]), usegmt=True))
out = {"url": a["url"], "redirected": False}
data = b""
try:
    resp = urllib.request.urlopen(req, timeout=a["timeout"])
    out["status"] = resp.status
    out["url"] = resp.geturl()
    out["redirected"] = resp.geturl() != a["url"]
    headers = resp.headers
    data = resp.read()
    length = headers.get("Content-Length")
    out["msg"] = "OK (%s bytes)" % (length if length is not None else "unknown")
except urllib.error.HTTPError as e:
    out["status"] = e.code
    headers = e.headers
    data = e.read()
    out["msg"] = "HTTP Error %d: %s" % (e.code, e.reason)
except Exception as e:
    out["status"] = -1
    headers = {}
    out["msg"] = "Request failed: %s" % e
for k, v in (headers.items() if headers else []):
    out["h:" + k] = v
out["elapsed"] = int(time.time() - start)
out["body"] = base64.b64encode(data).decode()
print(json.dumps(out))
'''


def _on_host(ctx: ActionContext, script: str, payload: dict[str, Any]) -> dict[str, Any]:
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    line = f"python3 -c {shlex.quote(script)} {encoded}"
    ok, output = ctx.run.host.run_shell_command(line, **ctx.sudo)
    if not ok:
        raise RuntimeError(f"python3 on the host failed: {output.stderr.strip()[-300:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def _exists(ctx: ActionContext, path: str) -> bool:
    ok, _ = ctx.run.host.run_shell_command(f"test -e {shlex.quote(path)}", **ctx.sudo)
    return ok


def uri(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    if ctx.check_mode:  # uri does not support check mode: Ansible skips the task
        return Outcome(SKIPPED, {"changed": False, "skipped": True,
                                 "msg": "remote module (uri) does not support check mode"})
    if args.get("creates") and _exists(ctx, args["creates"]):
        return Outcome(OK, {"changed": False, "msg": f"skipped, since '{args['creates']}' exists"})
    if args.get("removes") and not _exists(ctx, args["removes"]):
        return Outcome(OK, {"changed": False,
                            "msg": f"skipped, since '{args['removes']}' does not exist"})
    body = args.get("body")
    headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
    fmt = args.get("body_format") or "raw"
    if fmt == "json" and body is not None:
        if not isinstance(body, str):
            body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    elif fmt == "form-urlencoded" and body is not None:
        from urllib.parse import urlencode
        if not isinstance(body, str):
            body = urlencode(body if isinstance(body, dict) else list(body), doseq=True)
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif body is not None and not isinstance(body, str):
        body = str(body)
    wanted = [int(s) for s in (args.get("status_code") or [200])]
    found = _on_host(ctx, _URI, {
        "url": args["url"], "method": (args.get("method") or "GET").upper(), "body": body,
        "headers": headers, "timeout": args.get("timeout") or 30, "dest": args.get("dest"),
        "agent": args.get("http_agent") or "ansible-httpget", "ok": wanted,
        "force": bool(args.get("force")),
    })
    data = base64.b64decode(found.pop("body"))
    result: dict[str, Any] = {"changed": False, "cookies": {}, "cookies_string": ""}
    content_type = ""
    for key in list(found):
        if key.startswith("h:"):
            name = key[2:]
            result[name.replace("-", "_").lower()] = found.pop(key)
            if name.lower() == "content-type":
                content_type = result["content_type"]
    result.update(found)
    dest = _destination(args.get("dest"), result["url"], ctx)
    if dest:
        result["path"] = dest
    failed = result["status"] not in wanted
    if args.get("return_content") or failed:
        text = data.decode("utf-8", errors="replace")
        result["content"] = text
        if "json" in content_type:
            try:
                result["json"] = json.loads(text)
            except ValueError:
                pass
    if failed:
        result["msg"] = f"Status code was {result['status']} and not {wanted}: {result['msg']}"
        result["failed"] = True
        return Outcome(FAILED, result, error=result["msg"])
    result["failed"] = False
    if dest and result["status"] != 304:
        return Outcome(CHANGED, result, calls=[_write(dest, data, ctx)])
    return Outcome(OK, result)


def _destination(dest: Any, url: str, ctx: ActionContext) -> str | None:
    """`dest`, or in a directory the file the URL names (Ansible's `index.html` for none)."""
    if not dest:
        return None
    dest = str(dest)
    if ctx.run.host.get_fact(Directory, path=dest, **ctx.sudo):
        name = posixpath.basename(urlsplit(url).path) or "index.html"
        return posixpath.join(dest, name)
    return dest


def _write(dest: str, data: bytes, ctx: ActionContext) -> OpCall:
    """The body written to `dest` by a journaled files.put (see the module's docstring)."""
    exists = bool(ctx.run.host.get_fact(File, path=dest, **ctx.sudo))
    try:
        preview = FilePreview(dest, data.decode("utf-8"))
    except UnicodeDecodeError:
        preview = None
    return OpCall(files.put, {"src": io.BytesIO(data), "dest": dest, "force": True,
                              "mode": None if exists else "644"}, preview)


_WAIT_FOR = r'''
import base64, json, os, re, socket, sys, time
a = json.loads(base64.b64decode(sys.argv[1]))
start = time.time()
time.sleep(a["delay"])
end = start + a["timeout"]
state = a["state"]
def port_open():
    try:
        s = socket.create_connection((a["host"], a["port"]), timeout=a["connect_timeout"])
    except OSError:
        return None
    return s
def drained():
    # no connection to the port in an active state (ss, as /proc/net/tcp lists them)
    states = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "06": "TIME_WAIT"}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].split(":")[1], 16) == a["port"] and \
                    states.get(parts[3]) in a["active"]:
                return False
    return True
match = None
done = False
while True:
    if a["path"]:
        here = os.path.exists(a["path"])
        if state in ("present", "started"):
            if here:
                if not a["regex"]:
                    done = True
                else:
                    try:
                        text = open(a["path"], errors="replace").read()
                    except OSError:
                        text = ""
                    m = re.search(a["regex"], text, re.M)
                    if m:
                        match = {"groups": list(m.groups()), "groupdict": m.groupdict()}
                        done = True
        else:
            done = not here
    elif a["port"] is not None:
        if state in ("started", "present"):
            s = port_open()
            if s is not None:
                if not a["regex"]:
                    done = True
                    s.close()
                else:
                    data = b""
                    s.settimeout(max(0.1, end - time.time()))
                    try:
                        while True:
                            m = re.search(a["regex"], data.decode(errors="replace"), re.M)
                            if m:
                                match = {"groups": list(m.groups()), "groupdict": m.groupdict()}
                                done = True
                                break
                            chunk = s.recv(1024)
                            if not chunk:
                                break
                            data += chunk
                    except OSError:
                        pass
                    s.close()
        elif state in ("stopped", "absent"):
            s = port_open()
            if s is None:
                done = True
            else:
                s.close()
        elif state == "drained":
            done = drained()
    else:
        done = True
    if done or time.time() >= end:
        break
    time.sleep(a["sleep"])
print(json.dumps({"done": done, "elapsed": int(time.time() - start), "match": match}))
'''


def wait_for(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    state = args.get("state") or "started"
    path, port = args.get("path"), args.get("port")
    if path and port is not None:
        msg = "port and path parameter can not both be passed to wait_for"
        return Outcome(FAILED, {"changed": False, "failed": True, "msg": msg}, error=msg)
    if path and state in ("stopped", "drained"):
        msg = f"state={state} should only be used for checking a port in the wait_for module"
        return Outcome(FAILED, {"changed": False, "failed": True, "msg": msg}, error=msg)
    if args.get("search_regex") and state in ("absent", "stopped", "drained"):
        msg = "state=%s should only be used with search_regex when checking a path" % state
        return Outcome(FAILED, {"changed": False, "failed": True, "msg": msg}, error=msg)
    host = args.get("host") or "127.0.0.1"
    if ctx.check_mode:  # wait_for does not support check mode: Ansible skips the task
        return Outcome(SKIPPED, {"changed": False, "skipped": True,
                                 "msg": "remote module (wait_for) does not support check mode"})
    timeout = args["timeout"] if args.get("timeout") is not None else 300
    found = _on_host(ctx, _WAIT_FOR, {
        "host": host, "port": port, "path": path, "state": state,
        "regex": args.get("search_regex"), "timeout": timeout,
        "delay": args.get("delay") or 0, "sleep": args["sleep"] if args.get("sleep") else 1,
        "connect_timeout": args.get("connect_timeout") or 5,
        "active": list(args.get("active_connection_states") or []),
    })
    result: dict[str, Any] = {"changed": False, "elapsed": found["elapsed"], "state": state}
    if path:
        result["path"] = path
    else:
        result["port"] = port
    if found["match"]:
        result["match_groups"] = found["match"]["groups"]
        result["match_groupdict"] = found["match"]["groupdict"]
    if found["done"]:
        return Outcome(OK, {**result, "failed": False})
    if args.get("msg"):
        msg = args["msg"]
    elif path:
        if state in ("absent",):
            msg = f"Timeout when waiting for {path} to be absent."
        elif args.get("search_regex"):
            msg = f"Timeout when waiting for search string {args['search_regex']} in {path}"
        else:
            msg = f"Timeout when waiting for file {path}"
    elif state == "drained":
        msg = f"Timeout when waiting for {host}:{port} to drain"
    elif state in ("stopped", "absent"):
        msg = f"Timeout when waiting for {host}:{port} to stop."
    elif args.get("search_regex"):
        msg = f"Timeout when waiting for search string {args['search_regex']} in {host}:{port}"
    else:
        msg = f"Timeout when waiting for {host}:{port}"
    result.update({"failed": True, "msg": msg})
    return Outcome(FAILED, result, error=msg)
