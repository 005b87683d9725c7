# containerd: the node's private container runtime (Debian's), with its own root, state, socket
# and runc root under DIR/node, so it never meets docker's or the system's containerd. Its
# configuration (DIR/node/containerd.toml, with the CNI conflist) is rendered by node-up.sh.
# shellcheck shell=bash
# Settings (node.env): NODE_DIR.

containerd::binary() { command -v containerd; }

containerd::start() {
  proc::start "$1" containerd "$(containerd::binary)" --config "$NODE_DIR/containerd.toml"
}

containerd::health() { ctr --address "$NODE_DIR/containerd.sock" version; }
