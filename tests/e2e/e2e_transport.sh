# Sourced by the end-to-end scripts that start a server: e2e_transport DIR exports what
# FASTGPU_E2E_TRANSPORT asks for (FASTGPU_TRANSPORT, and FASTGPU_SERVER_LISTEN in DIR):
#   tcp (default)  the server on TCP, clients kept on it
#   unix           the server on a Unix socket in DIR, clients kept on it
#   shm            the server on a Unix socket in DIR, clients must move onto shared memory
#   tcp-shm        the server on TCP, clients must move onto shared memory (by rendezvous)
#   tcp-auto       the server on TCP, FASTGPU_TRANSPORT unset: clients move when they can
e2e_transport() {
  case ${FASTGPU_E2E_TRANSPORT:-tcp} in
    tcp) export FASTGPU_TRANSPORT=tcp ;;
    tcp-shm) export FASTGPU_TRANSPORT=shm ;;
    tcp-auto) unset FASTGPU_TRANSPORT ;;
    unix | shm)
      export FASTGPU_SERVER_LISTEN=unix://$1/fastgpu.sock
      export FASTGPU_TRANSPORT=$FASTGPU_E2E_TRANSPORT
      ;;
    *) echo "FASTGPU_E2E_TRANSPORT=$FASTGPU_E2E_TRANSPORT is not tcp, unix, shm, tcp-shm or tcp-auto" >&2; return 2 ;;
  esac
}
