"""pyinfra's list of global arguments, worked out once per process instead of once per call.

pyinfra reads every operation's and every fact's global arguments (`_sudo`, `_env`,
`_chdir`...) with `pop_global_arguments`, which asks `all_global_arguments()` for their names
and types; that evaluates `typing.get_type_hints(AllArguments)` afresh on each call (pyinfra
3.x, `pyinfra/api/arguments.py`). A role of 30 operations on 1,000 hosts asks about 10^5 times,
and the answer never changes: the arguments are a TypedDict fixed when pyinfra is imported. So
the answer is computed once here and pyinfra's two callers (`arguments.pop_global_arguments`
and `facts.get_facts`'s argument check) are given a function returning a copy of it.

Importing this module installs it; `install()` is idempotent.
"""

from __future__ import annotations

from pyinfra.api import arguments, facts

_ORIGINAL = arguments.all_global_arguments
_KNOWN: tuple[tuple[str, type], ...] = tuple(_ORIGINAL())


def all_global_arguments() -> list[tuple[str, type]]:
    """What `pyinfra.api.arguments.all_global_arguments` returns: each global argument's name
    and type, in pyinfra's order (a new list each time, as pyinfra's is)."""
    return list(_KNOWN)


def install() -> None:
    """Point pyinfra's callers at `all_global_arguments` (they look the name up as a global
    of their own module when they run)."""
    for module in (arguments, facts):
        if getattr(module, "all_global_arguments", None) in (_ORIGINAL, all_global_arguments):
            module.all_global_arguments = all_global_arguments  # type: ignore[attr-defined]


install()
