#!/bin/sh
echo "web1 web2"
