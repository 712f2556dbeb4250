# Sourced by the end-to-end scripts that start a server: e2e_transport DIR exports what
# FASTGPU_E2E_TRANSPORT asks for. tcp (default): nothing; unix or shm: the server listens on a
# Unix socket in DIR (FASTGPU_SERVER_LISTEN) and clients stay on it (unix) or must move onto
# shared memory (shm) (FASTGPU_TRANSPORT).
e2e_transport() {
  case ${FASTGPU_E2E_TRANSPORT:-tcp} in
    tcp) ;;
    unix | shm)
      export FASTGPU_SERVER_LISTEN=unix://$1/fastgpu.sock
      export FASTGPU_TRANSPORT=$FASTGPU_E2E_TRANSPORT
      ;;
    *) echo "FASTGPU_E2E_TRANSPORT=$FASTGPU_E2E_TRANSPORT is not tcp, unix or shm" >&2; return 2 ;;
  esac
}
