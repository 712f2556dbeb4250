#!/usr/bin/env bash
# End to end over tls://, with certificates made fresh: a client that trusts the server's CA runs
# PROGRAM; one that trusts another CA fails cuInit with one line naming the reason. Then, with
# client certificates required, a client without one is refused and one with one runs.
#   tls.sh BUILD_DIR PROGRAM MARKER    (MARKER: the line PROGRAM prints when all went well)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
FASTGPU_BUILD=$1 program=$2 marker=$3
certs=$(mktemp -d)
trap 'stop_fastgpu_server; rm -rf "$certs"' EXIT
"$FASTGPU_BUILD/tests/fastgpu-test-certs" "$certs"
fastgpu=$FASTGPU_BUILD/bin/fastgpu
export FASTGPU_SIM_MEMORY=${FASTGPU_SIM_MEMORY:-4GiB} FASTGPU_SERVER_GRACE=0 FASTGPU_TIMEOUT=10
export FASTGPU_SERVER_LISTEN=tls://127.0.0.1:0 FASTGPU_SERVER_CONFIG=$certs/server.toml

# Runs PROGRAM through FastGPU with the given fastgpu run options; prints its output.
run() { "$fastgpu" run "$@" -- "$program" 2>&1 || true; }
expect() {
  local what=$1 pattern=$2 output=$3
  if ! grep -Eq -- "$pattern" <<<"$output"; then
    echo "FAILED: $what: expected /$pattern/ in:"
    echo "$output"
    exit 1
  fi
  echo "ok: $what"
}

printf 'tls_cert = "%s/server.pem"\ntls_key = "%s/server.key"\n' "$certs" "$certs" >"$certs/server.toml"
start_fastgpu_server "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
[[ $FASTGPU_SERVER == tls://127.0.0.1:* ]] || { echo "FAILED: the server listens on $FASTGPU_SERVER"; exit 1; }
expect "a client that trusts the CA runs" "^$marker\$" "$(run --tls-ca "$certs/ca.pem")"
expect "a client that trusts another CA is refused in cuInit" \
  "cuInit failed: cannot reach server tls://127.0.0.1:[0-9]+: TLS handshake with tls://127.0.0.1:[0-9]+ failed: certificate verify failed.*check FASTGPU_TLS_CA" \
  "$(run --tls-ca "$certs/other-ca.pem")"
plain_url=tcp://${FASTGPU_SERVER#tls://}
expect "a plaintext client gets no session" "cuInit failed: server $plain_url .*is it one" "$(run --server "$plain_url")"
stop_fastgpu_server

printf 'tls_client_ca = "%s/ca.pem"\n' "$certs" >>"$certs/server.toml"
start_fastgpu_server "$FASTGPU_BUILD/lib/cudasim/libcuda.so.1"
expect "a client without a certificate is refused when one is required" \
  "cuInit failed: .*certificate required.*check FASTGPU_TLS_CERT" \
  "$(run --tls-ca "$certs/ca.pem")"
expect "a client with a certificate from another CA is refused" "cuInit failed: .*unknown ca.*check FASTGPU_TLS_CERT" \
  "$(run --tls-ca "$certs/ca.pem" --tls-cert "$certs/rogue-client.pem" --tls-key "$certs/rogue-client.key")"
expect "a client with a certificate runs" "^$marker\$" \
  "$(run --tls-ca "$certs/ca.pem" --tls-cert "$certs/client.pem" --tls-key "$certs/client.key")"
echo "TLS sessions work end to end"
