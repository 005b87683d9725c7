# containerd: the node's private container runtime (Debian's), with its own root, state, socket
# and runc root under DIR/node, so it never meets docker's or the system's containerd. Its
# configuration (DIR/node/containerd.toml, with the CNI conflist) is rendered by node-up.sh.
# shellcheck shell=bash
# Settings (node.env): NODE_DIR.

containerd::binary() { command -v containerd; }

containerd::start() {
  proc::start "$1" containerd "$(containerd::binary)" --config "$NODE_DIR/containerd.toml"
}

# Healthy means its CRI answers, not only containerd: for a moment after a start the CRI plugin
# answers "server is not initialized yet", and a kubelet started then exits (a CI run's restart
# of both did). crictl is built only into kind's node image: here curl makes the gRPC call over
# the socket (HTTP/2, an empty VersionRequest: a 5-byte frame); the grpc-status trailer answers.
containerd::health() {
  printf '\0\0\0\0\0' |
    curl -s --max-time 2 --http2-prior-knowledge --unix-socket "$NODE_DIR/containerd.sock" \
      -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- -D - -o /dev/null \
      http://localhost/runtime.v1.RuntimeService/Version | tr -d '\r' | grep -ix 'grpc-status: 0' >/dev/null
}
