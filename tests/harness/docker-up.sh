#!/usr/bin/env bash
# Bring up a Docker engine usable by Molecule on a bare Debian 12 machine,
# then build the local Debian 12 systemd image the scenarios run in.
# Idempotent: every step is skipped when already done.
set -euo pipefail

IMAGE="${MOLECULE_IMAGE:-ai-backend/debian12-systemd:local}"
LOG_DIR="${AI_BACKEND_CACHE:-$(pwd)/.cache}/docker"
mkdir -p "$LOG_DIR"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  echo "harness: installing docker.io and debootstrap from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if pidof systemd >/dev/null 2>&1 && [ "$(cat /proc/1/comm)" = systemd ]; then
    systemctl start docker
  else
    # No systemd as PID 1 here: run dockerd ourselves, with no bridge network,
    # so nothing in a private address range is ever created or used.
    echo "harness: starting dockerd (no bridge, no iptables)"
    setsid dockerd --bridge=none --iptables=false --ip-masq=false \
      >"$LOG_DIR/dockerd.log" 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "harness: dockerd did not start; see $LOG_DIR/dockerd.log" >&2; exit 1; }
fi

if [ -n "${MOLECULE_IMAGE:-}" ] && [ "${MOLECULE_IMAGE}" != "ai-backend/debian12-systemd:local" ]; then
  docker image inspect "$IMAGE" >/dev/null 2>&1 || docker pull "$IMAGE"
  exit 0
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "harness: building $IMAGE with debootstrap (about a minute)"
  root="$(mktemp -d /tmp/ai-backend-rootfs.XXXXXX)"
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,python3,python3-apt,sudo,iproute2,ca-certificates \
    bookworm "$root" http://deb.debian.org/debian >"$LOG_DIR/debootstrap.log" 2>&1 \
    || { echo "harness: debootstrap failed; see $LOG_DIR/debootstrap.log" >&2; exit 1; }
  # Units that make no sense in a container would only slow boot or fail.
  for unit in systemd-firstboot.service systemd-udevd.service systemd-modules-load.service \
              getty.target console-getty.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  tar -C "$root" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' - "$IMAGE" >/dev/null
fi
echo "harness: docker ready, image $IMAGE"
