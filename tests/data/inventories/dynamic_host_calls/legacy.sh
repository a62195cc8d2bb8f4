#!/bin/sh
# An old-style inventory script: no _meta, so it is asked about each host with --host.
case "$1" in
  --list) echo '{"app": {"hosts": ["a1", "a2"], "vars": {"tier": "app"}}, "lb": ["lb1"]}' ;;
  --host)
    case "$2" in
      a1) echo '{"ansible_host": "192.0.2.1", "tier": "a1-own"}' ;;
      lb1) echo '{"weight": 10}' ;;
      *) echo '{}' ;;
    esac ;;
  *) exit 2 ;;
esac
