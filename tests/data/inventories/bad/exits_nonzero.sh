#!/bin/sh
echo "cannot reach the CMDB at cmdb.example.com" >&2
exit 3
