"""Paths: a file's exact bytes, mode and owner, a directory, a link, or its absence.

A file is copied into the batch's directory on the host (0600) before the run; parents the task
may create are recorded as absent, so a rollback removes them. Files, directories and links come
back through `files.put`, `files.directory` and `files.link`; what the run created is removed.
A user's crontab is its spool file, so cron tasks are recorded here.
"""

from __future__ import annotations

import io
from shlex import quote
from typing import Any

from pyinfra.facts.files import Directory, File, Link
from pyinfra.operations import apt, crontab, files, git

from orchestrator.modules import repositories, rewrite, tree
from orchestrator.undo.kinds.base import HostPlan, Kind, PreImage, Resource, difference

NAME = "path"


def _dest(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource(NAME, kwargs.get("dest") or kwargs["path"])]


def _path(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource(NAME, kwargs["path"])]


def _recursive(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource("unsupported", f"{kwargs['path']}/*", {
        "why": "the owners and modes of a directory's contents (recurse) are not recorded"})]


def _apt_key(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource(NAME, kwargs.get("dest") or "/etc/apt/trusted.gpg")]


def _crontab(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    # the user's crontab is one spool file: its exact bytes are its pre-image
    return [Resource(NAME, f"/var/spool/cron/crontabs/{kwargs.get('user') or 'root'}")]


def _checkout(kwargs: dict[str, Any], undo: str | None) -> list[Resource]:
    return [Resource(NAME, kwargs["dest"], {"tree": True})]


OPERATIONS = {
    **dict.fromkeys((files.put, files.file, files.line, files.block, files.replace,
                     files.download, rewrite.rewrite), _dest),
    files.directory: _path, files.link: _path, repositories.source_file: _path,
    tree.attributes: _recursive, apt.key: _apt_key, crontab.crontab: _crontab,
    git.repo: _checkout,
}

# A host runs this for every path a segment may change, twice (the pre-image, then what the
# run left), on every host at once, so it starts few processes: `snap_path` tells a path's type
# with the shell's own tests (`parent_of` is POSIX dirname in parameter expansions) and notes
# it; `snap_paths` then reads the modes and owners of all of them with one `stat` and the
# hashes of all files with one `sha256sum`. Each answer names its path, and an answer is only
# taken for the path it names (one the tool could not read gets none).
SHELL = r"""
parent_of() {
  d=$1
  [ -n "$d" ] || { d=.; return; }
  case $d in *[!/]*) ;; *) d=/; return ;; esac
  while :; do case $d in */) d=${d%/} ;; *) break ;; esac; done
  case $d in */*) d=${d%/*} ;; *) d=.; return ;; esac
  while :; do case $d in */) d=${d%/} ;; *) break ;; esac; done
  [ -n "$d" ] || d=/
}
quoted() {
  r= s=$1
  while :; do case $s in *\'*) r="$r${s%%\'*}'\\''"; s=${s#*\'} ;; *) r="$r$s"; break ;; esac; done
  r="'$r'"
}
snap_path() {
  p=$2
  parent_of "$p"
  while [ ! -e "$d" ] && [ "$d" != / ]; do printf '%s\tmissing\t%s\n' "$1" "$d"; parent_of "$d"; done
  if [ -L "$p" ]; then printf '%s\tlink\t%s\n' "$1" "$(readlink -- "$p")"
  elif [ -d "$p" ]; then printf '%s\tdirectory\n' "$1"
  elif [ -f "$p" ]; then { [ -z "$3" ] || cp -- "$p" "$3"; } || return 0
    printf '%s\tfile\n' "$1"
    case $p in
      *\\*) h=$(sha256sum < "$p") && printf '%s\tsha256\t%s\n' "$1" "${h%% *}" ;;  # sha256sum escapes such names
      *) quoted "$p"; SUMS="$SUMS $r" SUMS_AT="${SUMS_AT:+$SUMS_AT }$1" ;;
    esac
  elif [ -e "$p" ]; then printf '%s\tother\n' "$1"
  else printf '%s\tabsent\n' "$1"; return 0; fi
  quoted "$p"; STATS="$STATS $r" STATS_AT="${STATS_AT:+$STATS_AT }$1"
}
snap_answers() {
  # $1 the tag, $2 the indexes, then the paths; stdin: one answer per path it could read,
  # "<fields> <path>" (sep: what ends the fields)
  tag=$1 at=$2 sep=$3; shift 3
  IFS= read -r line || line=
  for p; do
    i=${at%% *}; at=${at#* }
    if [ "${line%"$sep$p"}" != "$line" ]; then
      printf '%s\t%s\t%s\n' "$i" "$tag" "${line%"$sep$p"}"; IFS= read -r line || line=
    fi
  done
}
snap_paths() {
  if [ -n "$STATS" ]; then
    eval "set -- $STATS"
    stat -c '%a %U %G %n' -- "$@" 2>/dev/null | snap_answers attrs "$STATS_AT" " " "$@"
  fi
  if [ -n "$SUMS" ]; then
    eval "set -- $SUMS"
    sha256sum -- "$@" 2>/dev/null | snap_answers sha256 "$SUMS_AT" "  " "$@"
  fi
}
STATS= STATS_AT= SUMS= SUMS_AT=
"""


def capture(index: int, key: str, copy_to: str) -> str:
    return f"snap_path {index} {quote(key)} {quote(copy_to)}"


def parse(tag: str, fields: list[str], state: dict[str, Any]) -> None:
    if tag == "missing":  # a parent the task may create: recorded as absent of its own
        state.setdefault("missing", []).append(fields[0])
    elif tag == "attrs":
        state["mode"], state["user"], state["group"] = fields[0].split(" ")
    elif tag == "sha256":
        state["sha256"] = fields[0]
    else:
        state["type"] = tag
        if tag == "link":
            state["target"] = fields[0]


def summary(image: PreImage) -> str:
    s = image.state
    if s.get("type") == "absent":
        return "absent"
    bits = [s.get("type", "?"), s.get("mode", ""), f"{s.get('user')}:{s.get('group')}"]
    if s.get("target"):
        bits.append(f"-> {s['target']}")
    return " ".join(b for b in bits if b)


_FIELDS = ("type", "mode", "user", "group", "sha256", "target")
_fields_changed = difference(_FIELDS, {"sha256": "content"})


def _difference(left: dict[str, Any], now: dict[str, Any]) -> str | None:
    if left.get("type") != now.get("type"):
        return f"{left.get('type')} -> {now.get('type')}"
    return _fields_changed(left, now)


def restore(plan: HostPlan, image: PreImage) -> None:
    step, prior, key = plan.step(image), image.state, image.key
    kind = prior.get("type")
    if kind == "absent":
        # whatever is there now was created by the run: remove it (a directory with its content)
        if plan.reads.fact(Link, path=key):
            plan.add(step, files.link, path=key, present=False)
        elif plan.reads.fact(Directory, path=key):
            plan.add(step, files.directory, path=key, present=False)
        elif plan.reads.fact(File, path=key):
            plan.add(step, files.file, path=key, present=False)
    elif kind == "file":
        saved = f"{plan.journal}/{image.extra['batch']}/{image.extra['copy']}"
        data = plan.reads.file(saved)
        if data is None:
            step.note = f"saved copy {saved} is missing"
            return
        plan.add(step, files.put, src=io.BytesIO(data), dest=key, mode=prior["mode"],
                 user=prior["user"], group=prior["group"])
    elif kind == "directory":
        plan.add(step, files.directory, path=key, mode=prior["mode"], user=prior["user"],
                 group=prior["group"])
    elif kind == "link":
        plan.add(step, files.link, path=key, target=prior["target"], user=prior["user"],
                 group=prior["group"], force=True)
    else:
        step.note = f"a {kind} is not restored"


KIND = Kind(NAME, OPERATIONS, summary, restore, shell=SHELL, capture=capture,
            capture_end="snap_paths",
            tags=("missing", "absent", "link", "directory", "file", "other", "attrs", "sha256"),
            parse=parse,
            difference=_difference)
