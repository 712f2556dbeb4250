#!/usr/bin/env bash
# Runs PROGRAM through fastgpu against a loopback port nobody listens on: one the system hands
# out for a moment and takes back (no fixed port that could be in use).
#   unreachable_server.sh FASTGPU PROGRAM
set -euo pipefail
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
exec "$1" run --server "tcp://127.0.0.1:$port" -- "$2"
