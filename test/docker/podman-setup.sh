#!/usr/bin/env bash
# Prepares podman for the docker test on a Debian host (as root) and prints, on stdout, the
# `export` lines that point podman and podman-compose at it. Logs go to stderr. Idempotent: a
# second run reuses what exists.
#
#   eval "$(bash test/docker/podman-setup.sh)"
#
# - installs podman, podman-compose, runc, debootstrap, … when missing (apt-get);
# - writes a private podman configuration under $WEBMON_PODMAN_DIR (default /tmp/webmon-podman):
#   runc (crun refuses hybrid cgroups on some hosts), cgroupfs, file events, and default ulimits no
#   higher than this process's hard limits (podman asks for 1048576, which fails without
#   CAP_SYS_RESOURCE);
# - makes sure the base images named by docker/Dockerfile (ARG NODE_IMAGE) and
#   docker/docker-compose.yml (redis) exist: pulled when a registry answers, else built as local
#   stand-ins from Debian packages (debootstrap; the host's CA certificates baked in; the host's own
#   node and npm, which must be >= 20.18.1 like package.json's engines, copied in).
# Not root: nothing is installed or configured; podman is used as the user has set it up.
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '[podman-setup] %s\n' "$*" >&2; }
BASE=${WEBMON_PODMAN_DIR:-/tmp/webmon-podman}
SUITE=bookworm
NODE_IMAGE=$(sed -n 's/^ARG NODE_IMAGE=//p' docker/Dockerfile)
REDIS_IMAGE=$(sed -n 's/^ *image: \(redis:.*\)$/\1/p' docker/docker-compose.yml)
[ -n "$NODE_IMAGE" ] && [ -n "$REDIS_IMAGE" ] || { say "cannot read the base images from docker/"; exit 1; }

if [ "$(id -u)" != 0 ]; then
  say "not root: using podman as configured for $(id -un)"
  exit 0
fi

install_packages() {
  local missing=()
  for bin in podman podman-compose runc debootstrap conmon catatonit netavark aardvark-dns; do
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/lib/podman/$bin" ] || missing+=("$bin")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing the podman stack (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends podman podman-compose debootstrap uidmap slirp4netns \
    fuse-overlayfs runc containernetworking-plugins netavark aardvark-dns iptables conmon catatonit \
    ca-certificates >"$BASE/apt-install.log" 2>&1 || { cat "$BASE/apt-install.log" >&2; return 1; }
}

write_config() {
  local nofile nproc
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=1048576
  nproc=$(ulimit -Hu); { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
  mkdir -p "$BASE"/{storage,run,networks,engine,tmp}
  cat >"$BASE/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$BASE/storage"
runroot = "$BASE/run"
EOF
  cat >"$BASE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[network]
network_config_dir = "$BASE/networks"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$BASE/engine/events.log"
tmp_dir = "$BASE/engine"
volume_path = "$BASE/storage/volumes"
static_dir = "$BASE/storage/libpod"
EOF
  cat >"$BASE/env.sh" <<EOF
export CONTAINERS_STORAGE_CONF=$BASE/storage.conf
export CONTAINERS_CONF=$BASE/containers.conf
export TMPDIR=$BASE/tmp
EOF
}

# "node:24-bookworm-slim" -> "docker.io/library/node:24-bookworm-slim"
qualified() { case "$1" in */*) echo "$1" ;; *) echo "docker.io/library/$1" ;; esac; }

have_image() { podman image exists "$(qualified "$1")"; }

try_pull() {
  say "pulling $1"
  timeout 120 podman pull -q "$(qualified "$1")" >/dev/null 2>&1
}

debian_base() {
  podman image exists "localhost/debian:$SUITE" && return 0
  local mirror secmirror r="$BASE/rootfs"
  mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$mirror" ] || mirror=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                               | grep -oE 'https?://[^ ]+' | grep -v security | head -1 || true)
  [ -n "$mirror" ] || { say "no Debian mirror in /etc/apt/sources.list*"; return 1; }
  secmirror=$(grep -hE '^URIs:.*security' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1 || true)
  secmirror=${secmirror:-${mirror%/debian}/debian-security}
  if [ ! -x "$r/usr/bin/apt-get" ]; then
    say "debootstrap $SUITE from $mirror"
    rm -rf "$r"
    debootstrap --variant=minbase "$SUITE" "$r" "$mirror" >"$BASE/debootstrap.log" 2>&1 || { tail -20 "$BASE/debootstrap.log" >&2; return 1; }
  fi
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* "$r/etc/apt/sources.list"
  mkdir -p "$r/var/lib/apt/lists/partial" "$r/usr/local/share/ca-certificates"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $secmirror
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$r/etc/apt/apt.conf.d/99norecommends"
  : >"$r/etc/resolv.conf"
  # The host's extra CA certificates (a TLS-inspecting proxy's, for instance): installed by
  # update-ca-certificates once ca-certificates is in, and for node before that.
  cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/" 2>/dev/null || true
  cat "$r"/usr/local/share/ca-certificates/*.crt >"$r/usr/local/share/ca-certificates/host-extra-cas.pem" 2>/dev/null || true
  say "podman import localhost/debian:$SUITE"
  tar -C "$r" -c . | podman import -q \
    --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host-extra-cas.pem' \
    - "localhost/debian:$SUITE" >/dev/null
}

redis_standin() {
  local dir="$BASE/images/redis"
  mkdir -p "$dir"
  cat >"$dir/Containerfile" <<EOF
FROM localhost/debian:$SUITE
RUN apt-get update && apt-get install -y redis-server && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /data && chown redis:redis /data
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]
EOF
  say "building a stand-in for $REDIS_IMAGE (Debian's redis-server)"
  podman build -q -t "$(qualified "$REDIS_IMAGE")" "$dir" >"$BASE/build-redis.log" 2>&1 || { tail -20 "$BASE/build-redis.log" >&2; return 1; }
}

node_standin() {
  local dir="$BASE/images/node" node npm_dir
  node=$(readlink -f "$(command -v node)")
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -x "$node" ] && [ -f "$npm_dir/package.json" ] || { say "the node stand-in needs the host's node and npm"; return 1; }
  rm -rf "$dir"; mkdir -p "$dir/rootfs/usr/bin" "$dir/rootfs/usr/lib/node_modules"
  cp -a "$node" "$dir/rootfs/usr/bin/node"
  cp -a "$npm_dir" "$dir/rootfs/usr/lib/node_modules/npm"
  cat >"$dir/Containerfile" <<EOF
FROM localhost/debian:$SUITE
RUN apt-get update && apt-get install -y ca-certificates libstdc++6 && rm -rf /var/lib/apt/lists/*
COPY rootfs/ /
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm \\
 && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/bin/npx \\
 && node --version && npm --version
CMD ["node"]
EOF
  say "building a stand-in for $NODE_IMAGE (the host's node $("$node" --version))"
  podman build -q -t "$(qualified "$NODE_IMAGE")" "$dir" >"$BASE/build-node.log" 2>&1 || { tail -20 "$BASE/build-node.log" >&2; return 1; }
}

mkdir -p "$BASE"
install_packages
write_config
# shellcheck disable=SC1091
. "$BASE/env.sh"
for pair in "$REDIS_IMAGE:redis_standin" "$NODE_IMAGE:node_standin"; do
  image=${pair%:*}; build=${pair##*:}
  have_image "$image" && continue
  try_pull "$image" && continue
  say "no registry answered for $image"
  debian_base
  "$build"
done
compose_version=$({ podman-compose version 2>/dev/null || true; } | sed -n 's/^podman-composer* version *//p' | head -1)
say "ready: $(podman --version), podman-compose ${compose_version:-?}, images $REDIS_IMAGE $NODE_IMAGE"
cat "$BASE/env.sh"
