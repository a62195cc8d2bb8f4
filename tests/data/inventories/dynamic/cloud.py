#!/usr/bin/env python3
"""A dynamic inventory in Ansible's --list protocol, as a cloud plugin would print it."""
import json
import sys

INVENTORY = {
    "all": {"vars": {"cloud": "example", "zone": "a"}, "children": ["web", "db"]},
    "web": {
        "hosts": ["vm-web-1", "vm-web-2"],
        "vars": {"http_port": 80, "zone": "b"},
        "children": ["web_canary"],
    },
    "web_canary": {"hosts": ["vm-web-2"], "vars": {"canary": True}},
    "db": {"hosts": ["vm-db-1"], "vars": {"engine": "postgres"}},
    "legacy_list": ["vm-old-1", "vm-web-1"],
    "loners": {"hosts": ["vm-lone"]},
    "_meta": {
        "hostvars": {
            "vm-web-1": {"ansible_host": "10.1.0.11", "zone": "c"},
            "vm-web-2": {"ansible_host": "10.1.0.12", "tags": {"team": "web"}},
            "vm-db-1": {"ansible_host": "10.1.0.21", "secret": {"__ansible_unsafe": "{{ no }}"}},
            "not-in-any-group": {"ignored": True},
        }
    },
}

if sys.argv[1:] == ["--list"]:
    json.dump(INVENTORY, sys.stdout)
else:
    json.dump({}, sys.stdout)
