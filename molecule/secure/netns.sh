#!/usr/bin/env bash
# The secure scenario's network: `netns.sh up` joins the containers'
# namespaces to one bridge and starts egress_proxy.py; `netns.sh down` undoes
# it. Idempotent. 192.0.2.0/24 (RFC 5737, documentation) lives only in these
# namespaces: the machine's own namespace gets no address and no route to
# them, the bridge's namespace has no address at all, and no namespace has a
# default route, so nothing can leave except through the proxy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
switch=aib-secure
outsider=aib-secure-out
state="${MOLECULE_EPHEMERAL_DIRECTORY:-/tmp/aib-secure}"
mkdir -p "$state"

has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
pid_of() { docker inspect -f '{{.State.Pid}}' "$1"; }

# attach PORT_NAME PEER_NAMESPACE_SPEC ADDRESS RUN_IN_PEER...
attach() {
  local port="$1" target="$2" address="$3"; shift 3
  if ip -n "$switch" link show "$port" >/dev/null 2>&1; then
    return
  fi
  ip link add "$port" type veth peer name eth1 netns "$target"
  ip link set "$port" netns "$switch"
  ip -n "$switch" link set "$port" master br0 up
  "$@" ip link set lo up
  "$@" ip addr add "$address/24" dev eth1
  "$@" ip link set eth1 up
  echo "created $port $address"
}

up() {
  if ! has_ns "$switch"; then
    ip netns add "$switch"
    ip -n "$switch" link add br0 type bridge
    ip -n "$switch" link set br0 up
    echo "created $switch"
  fi
  has_ns "$outsider" || { ip netns add "$outsider"; echo "created $outsider"; }
  local gw gpu
  gw="$(pid_of aib-secure-gateway)"
  gpu="$(pid_of aib-secure-gpu)"
  attach aibs-gw "$gw" 192.0.2.1 nsenter -t "$gw" -n
  attach aibs-gpu "$gpu" 192.0.2.2 nsenter -t "$gpu" -n
  attach aibs-out "$outsider" 192.0.2.99 ip netns exec "$outsider"
  if [ -f "$state/proxy.pid" ] && kill -0 "$(cat "$state/proxy.pid")" 2>/dev/null; then
    return
  fi
  setsid python3 "$here/egress_proxy.py" "$state/egress.log" "$gw" "$gpu" >"$state/proxy.out" 2>&1 &
  echo $! > "$state/proxy.pid"
  echo "created egress proxy $(cat "$state/proxy.pid")"
}

down() {
  if [ -f "$state/proxy.pid" ]; then
    kill "$(cat "$state/proxy.pid")" 2>/dev/null || true
    rm -f "$state/proxy.pid"
  fi
  for ns in "$outsider" "$switch"; do
    if has_ns "$ns"; then ip netns del "$ns"; fi
  done
  true
}

"${1:?usage: netns.sh up|down}"
