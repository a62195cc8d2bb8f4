"""`unarchive`: an archive (from the controller, or already on the host with `remote_src`)
extracted into an existing directory, unless `creates` exists or its files are already there.

As `ansible-doc unarchive` (ansible-core 2.19) documents it: `dest` must be an existing
directory; tar archives (gzip, bzip2, xz or none) are extracted with `tar`, zip files with
`unzip`, `extra_opts` given to the tool; `include`/`exclude` name the members taken or left; the
task changes only when a member's bytes, type or mode differ from what `dest` holds (Ansible asks
`tar --diff` and `unzip -Z` the same question); `list_files` registers the members' names in
`files`. The host's python3 reads the archive and compares; the tools extract.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from pathlib import Path
from typing import Any

from orchestrator.engine.actions import ActionContext, Outcome
from orchestrator.errors import InputError
from orchestrator.engine.results import CHANGED, FAILED, OK, SKIPPED

_SCRIPT = r'''
import base64, fnmatch, grp, hashlib, json, os, pwd, stat, subprocess, sys, tarfile, zipfile
a = json.loads(base64.b64decode(sys.argv[1]))
src, dest = a["src"], a["dest"]
out = {}
def finish(**kw):
    out.update(kw)
    print(json.dumps(out))
    sys.exit(0)
if not os.path.isdir(dest):
    finish(error="dest '%s' must be an existing dir" % dest)
if not os.access(src, os.R_OK):
    finish(error="Source '%s' not readable" % src)
def wanted(name):
    if a["include"] and not any(fnmatch.fnmatch(name, p) for p in a["include"]):
        return False
    return not any(fnmatch.fnmatch(name, p) for p in a["exclude"])
members = []  # (name, kind, mode, bytes or None)
if zipfile.is_zipfile(src):
    handler = "ZipArchive"
    import shutil
    if not shutil.which("unzip"):
        finish(error="Failed to find handler for \"%s\". Make sure the required command to "
               "extract the file is installed.\nUnable to find required 'unzip' binary in the "
               "path." % src)
    with zipfile.ZipFile(src) as z:
        for info in z.infolist():
            mode = (info.external_attr >> 16) & 0o7777
            kind = "dir" if info.is_dir() else "file"
            members.append((info.filename, kind, mode, None if kind == "dir" else z.read(info)))
else:
    try:
        t = tarfile.open(src)
    except tarfile.TarError:
        finish(error="Failed to find handler for \"%s\". Make sure the required command to "
               "extract the file is installed." % src)
    handler = "TgzArchive"
    with t:
        for m in t.getmembers():
            kind = "dir" if m.isdir() else "file" if m.isfile() else "link" if m.issym() else "other"
            data = t.extractfile(m).read() if m.isfile() else None
            # as `tar --list` names them: a directory with a trailing slash
            name = m.name + "/" if kind == "dir" and not m.name.endswith("/") else m.name
            members.append((name, kind, m.mode & 0o7777, data))
names = [n for n, _, _, _ in members if wanted(n.rstrip("/") if n.endswith("/") else n)]
def same(name, kind, mode, data):
    path = os.path.join(dest, name)
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if kind == "dir":
        return stat.S_ISDIR(st.st_mode)
    if kind == "link":
        return stat.S_ISLNK(st.st_mode)
    if kind != "file" or not stat.S_ISREG(st.st_mode):
        return kind == "other"
    if a["mode_given"] is None and stat.S_IMODE(st.st_mode) != mode and mode:
        return False
    with open(path, "rb") as f:
        return f.read() == data
unchanged = all(same(*m) for m in members if wanted(m[0].rstrip("/")))
out.update(handler=handler, files=names)
if unchanged or a["check"]:
    finish(changed=not unchanged)
if handler == "ZipArchive":
    cmd = ["unzip", "-o", *a["extra_opts"], src]
    cmd += [n for n in a["include"]]
    if a["exclude"]:
        cmd += ["-x", *a["exclude"]]
    cmd += ["-d", dest]
else:
    cmd = ["tar", "--extract", "-C", dest, *a["extra_opts"], "-f", src]
    cmd += ["--exclude=" + e for e in a["exclude"]]
    cmd += ["--wildcards", *a["include"]] if a["include"] else []
done = subprocess.run(cmd, capture_output=True, text=True)
if done.returncode != 0:
    finish(error="failed to unpack %s to %s" % (src, dest), stdout=done.stdout,
           stderr=done.stderr, cmd=" ".join(cmd))
uid = pwd.getpwnam(a["owner"]).pw_uid if a["owner"] else -1
gid = grp.getgrnam(a["group"]).gr_gid if a["group"] else -1
for name in names:
    path = os.path.join(dest, name)
    if os.path.lexists(path):
        if uid != -1 or gid != -1:
            os.lchown(path, uid, gid)
        if a["mode"] is not None and not os.path.islink(path):
            os.chmod(path, a["mode"])
finish(changed=True)
'''


def _mode(value: Any) -> int | None:
    """An octal mode (`"0644"`, `0o644` read by YAML as 420); symbolic modes are refused."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.isdigit():
        raise ValueError(f"unarchive: mode {text!r}: only octal modes are taken here")
    return int(text, 8)


def _local(name: str, ctx: ActionContext) -> Path:
    path = Path(name)
    if path.is_absolute():
        if path.exists():
            return path
    else:
        role = ctx.variables.get("role_path") if hasattr(ctx.variables, "get") else None
        bases = [Path(str(role))] if role else []
        bases += [Path(ctx.task.path).parent.parent, Path(ctx.task.path).parent]
        bases += [b.parent for b in ctx.search]
        for base in dict.fromkeys(bases):
            for candidate in (base / "files" / name, base / name):
                if candidate.exists():
                    return candidate
    raise InputError(f"unarchive: could not find src {name!r}", path=ctx.task.path,
                     line=ctx.task.line)


def unarchive(args: dict[str, Any], ctx: ActionContext) -> Outcome:
    host = ctx.run.host
    dest, src = str(args["dest"]), str(args["src"])
    if args.get("creates"):
        ok, _ = host.run_shell_command(f"test -e {shlex.quote(str(args['creates']))}")
        if ok:
            return Outcome(SKIPPED, {"changed": False, "skipped": True,
                                     "msg": f"skipped, since {args['creates']} exists"})
    remote = bool(args.get("remote_src")) or "://" in src
    if "://" in src:
        raise InputError("unarchive: a URL src is not supported by orc; fetch it with get_url "
                         "first", path=ctx.task.path, line=ctx.task.line)
    upload = None
    if not remote:
        local = _local(src, ctx)
        data = local.read_bytes()
        upload = f"/tmp/.orc-unarchive-{hashlib.sha1(data).hexdigest()}{''.join(local.suffixes)}"
        import io
        if not host.put_file(io.BytesIO(data), upload):
            raise RuntimeError(f"could not copy {local} to the host")
    payload = {"src": upload or src, "dest": dest,
               "include": list(args.get("include") or []),
               "exclude": list(args.get("exclude") or []),
               "extra_opts": list(args.get("extra_opts") or []),
               "owner": args.get("owner"), "group": args.get("group"),
               "mode": _mode(args.get("mode")), "mode_given": args.get("mode"),
               "check": ctx.check_mode}
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    line = f"python3 -c {shlex.quote(_SCRIPT)} {encoded}"
    if upload:
        line += f"; rc=$?; rm -f {shlex.quote(upload)}; exit $rc"
    ok, output = host.run_shell_command(line)
    if not ok:
        raise RuntimeError(f"unarchive on the host failed: {output.stderr.strip()[-300:]}")
    found = json.loads(output.stdout.strip().splitlines()[-1])
    result: dict[str, Any] = {"dest": dest, "src": upload or src,
                              "handler": found.get("handler"), "changed": False}
    if found.get("error"):
        result.update({"failed": True, "msg": found["error"]})
        for key in ("stdout", "stderr", "cmd"):
            if key in found:
                result[key] = found[key]
        return Outcome(FAILED, result, error=found["error"])
    result["changed"] = bool(found["changed"])
    result["failed"] = False
    if args.get("list_files"):
        result["files"] = found["files"]
    return Outcome(CHANGED if result["changed"] else OK, result)
