#!/usr/bin/env python3
import json
print(json.dumps({
    "web": {"hosts": ["web1", "web4"], "vars": {"origin": "cmdb"}},
    "cmdb_only": {"hosts": ["c1"], "children": ["db"]},
    "_meta": {"hostvars": {"web1": {"v": "cmdb"}, "c1": {"v": "c"}}},
}))
