#!/usr/bin/env bash
# scripts/port_free.sh HOST PORT VARIABLE: exit 1 with one line naming the port and the Make variable
# that changes it when something already listens there (make ui / serve / demo run it first).
set -euo pipefail
host=$1 port=$2 variable=$3
if python3 -c "import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
s.bind((sys.argv[1], int(sys.argv[2])))" "$host" "$port" 2>/dev/null; then
    exit 0
fi
echo "error: port $port on $host is in use (another server?): stop it, or choose another port: make ... $variable=<port>" >&2
exit 1
