#!/usr/bin/env bash
# Builds testbed-job:latest, a local CI job image FROM scratch, for the tests
# that run testbed inside a container with the host's Docker socket mounted
# (sibling containers, as GitLab's docker executor does). It holds:
#   - the host's static busybox as /bin/sh and friends, and a world-writable /tmp;
#   - the static docker client at /usr/local/bin/docker;
#   - the compose v2 plugin at /root/.docker/cli-plugins/docker-compose;
#   - Debian's docker-compose 1.29 (v1) at /usr/bin/docker-compose with the
#     Python it needs: the files of its Debian packages and the shared
#     libraries those load, copied from this machine;
#   - a static testbed at /usr/local/bin/testbed.
# No registry is needed: nothing is pulled.
#
# Usage: scripts/build-job-image.sh [TESTBED_BINARY]
#   Without an argument (or TESTBED_STATIC_BIN), builds a static testbed
#   with scripts/static-binary.sh --debug (into target/static). Prints the
#   image's name on stdout, progress on stderr. The inputs default to this
#   machine's tools; BUSYBOX, DOCKER_CLIENT, COMPOSE_PLUGIN and COMPOSE_V1
#   name others, and TESTBED_JOB_IMAGE the image.
#
# Two images, so that a changed testbed costs one small layer: the tools go
# into testbed-job-base:latest, rebuilt only when one of them changes, and
# testbed-job:latest adds testbed on top. Each carries a label with the
# checksums of its inputs; an image whose label matches is left as it is.
set -euo pipefail

# tests/e2e/job.rs uses this name. Two checkouts that share an engine (a
# worktree each) give theirs different names with TESTBED_JOB_IMAGE, or each
# build replaces the other's testbed.
IMAGE="${TESTBED_JOB_IMAGE:-testbed-job:latest}"
BASE_IMAGE=testbed-job-base:latest
BUSYBOX="${BUSYBOX:-/bin/busybox}"
COMPOSE_V1="${COMPOSE_V1:-/usr/bin/docker-compose}"
# Bump when the Dockerfiles below change, so existing images get rebuilt.
RECIPE=1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

say() { echo "build-job-image: $*" >&2; }
die() { echo "build-job-image: error: $*" >&2; exit 1; }

sum() { sha256sum "$@" | cut -d' ' -f1; }

label() {
    docker image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# docker build -q, quiet unless it fails.
build() {
    local image="$1" ctx="$2" out
    if ! out="$(docker build -q -t "$image" "$ctx" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "docker build of $image failed"
    fi
}

# Removes a superseded image, best effort: a container may still use it.
drop_old() {
    local old="$1" image="$2"
    if [ -n "$old" ] && [ "$old" != "$(image_id "$image")" ]; then
        docker image rm "$old" >/dev/null 2>&1 || true
    fi
}

[ "$#" -le 1 ] || die "usage: $0 [TESTBED_BINARY]"
command -v docker >/dev/null 2>&1 || die "docker client not found on PATH"
docker info >/dev/null 2>&1 \
    || die "the Docker daemon does not answer (\`docker info\` fails); start it with: bash scripts/setup-engine.sh"

# Two test processes may build at once (the e2e suite and a developer's run);
# the second waits, then finds the images up to date.
if command -v flock >/dev/null 2>&1; then
    lock="${TMPDIR:-/tmp}/testbed-build-job-image.lock"
    exec 9>>"$lock"
    flock 9 || die "cannot lock $lock"
fi

# ---- inputs ----------------------------------------------------------------

[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing; install it with: apt-get install busybox-static"
is_static "$BUSYBOX" || die "$BUSYBOX is not statically linked; install it with: apt-get install busybox-static"

# The client that talks to the daemon here is the one the image gets.
DOCKER_CLIENT="${DOCKER_CLIENT:-$(command -v docker)}"
is_static "$DOCKER_CLIENT" \
    || die "$DOCKER_CLIENT is not statically linked and would not run in a scratch image; set DOCKER_CLIENT to a static docker client (https://download.docker.com/linux/static/stable/)"

if [ -z "${COMPOSE_PLUGIN:-}" ]; then
    for dir in "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins" /usr/local/lib/docker/cli-plugins \
        /usr/local/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins /usr/libexec/docker/cli-plugins; do
        if [ -x "$dir/docker-compose" ]; then
            COMPOSE_PLUGIN="$dir/docker-compose"
            break
        fi
    done
fi
[ -n "${COMPOSE_PLUGIN:-}" ] || die "the docker compose v2 plugin was not found; install it with: bash scripts/setup-engine.sh"
is_static "$COMPOSE_PLUGIN" \
    || die "$COMPOSE_PLUGIN is not statically linked; set COMPOSE_PLUGIN to a static compose v2 binary (bash scripts/setup-engine.sh installs one)"

# Compose v1: Debian's package, with its Python. The files come from dpkg's
# own lists, so nothing else of this machine's Python (sitecustomize hooks,
# unrelated .pth files) leaks into the image.
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-cache >/dev/null 2>&1; then
    die "building compose v1 into the image needs dpkg and apt-cache (Debian or Ubuntu)"
fi
if ! [ -x "$COMPOSE_V1" ] || ! dpkg-query -S "$COMPOSE_V1" >/dev/null 2>&1; then
    die "$COMPOSE_V1 is not Debian's docker-compose package; install it with: apt-get install docker-compose"
fi
v1_package="$(dpkg-query -S "$COMPOSE_V1" | cut -d: -f1)"
mapfile -t v1_packages < <(
    apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances "$v1_package" 2>/dev/null \
        | grep -v '^ ' | grep -E "^(${v1_package}|python3|libpython3)" | sort -u
)
[ "${#v1_packages[@]}" -gt 1 ] || die "cannot list the packages $v1_package depends on (apt-cache depends)"

# Paths are listed with their directories resolved and their last component
# kept, so that a symlink stays a symlink and merged-/usr aliases (/lib ->
# usr/lib) collapse. The directories are resolved once each: thousands of
# files share a few hundred of them.
declare -A real_dirs=()

# Sets REPLY to $1 in that form; fails when its directory does not exist.
canonical() {
    local dir="${1%/*}"
    [ -n "$dir" ] || dir=/
    if [ -z "${real_dirs[$dir]+set}" ]; then
        real_dirs[$dir]="$(realpath -e "$dir" 2>/dev/null || true)"
    fi
    local real="${real_dirs[$dir]}"
    [ -n "$real" ] || return 1
    [ "$real" != / ] || real=
    REPLY="$real/${1##*/}"
}

# Prints $1 and, when it is a symlink, everything it leads to.
with_links() {
    local path target
    canonical "$1" || return 0
    path="$REPLY"
    while [ -L "$path" ]; do
        printf '%s\n' "$path"
        target="$(readlink "$path")"
        [[ "$target" == /* ]] || target="${path%/*}/$target"
        canonical "$target" || return 0
        path="$REPLY"
    done
    [ ! -e "$path" ] || printf '%s\n' "$path"
}

v1_files() {
    local f name pyc
    dpkg -L "${v1_packages[@]}" | sort -u | while IFS= read -r f; do
        # Documentation and desktop integration are not needed to run.
        case "$f" in
            /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/share/applications/* \
                | /usr/share/pixmaps/* | /usr/share/*completion* | /usr/share/zsh/* | /usr/share/fish/*) continue ;;
        esac
        [ -f "$f" ] || [ -L "$f" ] || continue
        with_links "$f"
        # Debian byte-compiles at install time; without the caches every
        # compose call would compile its modules again.
        if [[ "$f" == *.py ]]; then
            name="${f##*/}"
            for pyc in "${f%/*}/__pycache__/${name%.py}.cpython-3"*.pyc; do
                [ ! -e "$pyc" ] || with_links "$pyc"
            done
        fi
    done
}

# The shared libraries (and the loader) that python and its extensions load.
v1_libraries() {
    local f objects=()
    while IFS= read -r f; do
        [ ! -L "$f" ] || continue
        case "$f" in
            */bin/python3* | *.so | *.so.*) objects+=("$f") ;;
        esac
    done
    # ldd fails when any one object is not dynamic; the others still count.
    { ldd "${objects[@]}" 2>/dev/null || true; } \
        | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' \
        | sort -u | while IFS= read -r f; do with_links "$f"; done
}

v1_list="$(mktemp)"
ctx=""
trap 'rm -rf "$v1_list" ${ctx:+"$ctx"}' EXIT
{
    files="$(v1_files)"
    printf '%s\n' "$files"
    printf '%s\n' "$files" | v1_libraries
} | sort -u >"$v1_list"
grep -qx '/usr/bin/python3\.[0-9]*' "$v1_list" || die "no python3 interpreter among the files of ${v1_packages[*]}"

# Merged-/usr hosts reach the loader and libraries through /lib and /lib64
# symlinks; the image gets the same ones.
top_links=()
for dir in /lib /lib64 /lib32 /libx32; do
    if [ -L "$dir" ]; then
        top_links+=("${dir#/}" "$(readlink "$dir")")
    fi
done

# ---- testbed ---------------------------------------------------------------

TESTBED="${1:-${TESTBED_STATIC_BIN:-}}"
if [ -z "$TESTBED" ]; then
    TESTBED="$(bash "$here/static-binary.sh" --debug)" \
        || die "cannot build a static testbed (output above); pass a static testbed binary instead"
fi
[ -x "$TESTBED" ] || die "$TESTBED is not an executable file"
is_static "$TESTBED" \
    || die "$TESTBED is not statically linked and would not run in a scratch image; build one with: bash scripts/static-binary.sh"

# Without the buildx plugin, the docker CLI can only use the legacy builder.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
fi

# ---- the base image: busybox, docker, compose v2 and v1 --------------------

v1_sum="$(xargs -d '\n' sha256sum <"$v1_list" 2>/dev/null | sha256sum | cut -d' ' -f1)"
base_want="$(printf '%s\n' "$(sum "$BUSYBOX" "$DOCKER_CLIENT" "$COMPOSE_PLUGIN")" "$v1_sum" "${top_links[*]}" | sha256sum | cut -d' ' -f1)/$RECIPE"
if [ "$(label "$BASE_IMAGE" org.testbed.job-base)" = "$base_want" ]; then
    say "$BASE_IMAGE is up to date"
else
    say "building $BASE_IMAGE (busybox, docker, compose v2, compose v1 and its Python: $(wc -l <"$v1_list") files)"
    ctx="$(mktemp -d)"
    cp "$BUSYBOX" "$ctx/busybox"
    cp "$DOCKER_CLIENT" "$ctx/docker"
    cp "$COMPOSE_PLUGIN" "$ctx/docker-compose"
    # tar keeps symlinks, modes and the mtimes the .pyc caches are checked against.
    tar -C / --no-recursion -cf "$ctx/compose-v1.tar" -T <(sed 's|^/||' "$v1_list") \
        || die "cannot pack the files of compose v1"
    links=""
    for ((i = 0; i < ${#top_links[@]}; i += 2)); do
        links+=" && ln -s ${top_links[i + 1]} /${top_links[i]}"
    done
    cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p -m 1777 /tmp && mkdir -p /etc /root /usr/local/bin /root/.docker/cli-plugins${links} && echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd && echo 'root:x:0:' >/etc/group"]
COPY docker /usr/local/bin/docker
COPY docker-compose /root/.docker/cli-plugins/docker-compose
ADD compose-v1.tar /
ENV HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
LABEL org.testbed.job-base="$base_want"
CMD ["/bin/sh"]
DOCKERFILE
    old="$(image_id "$BASE_IMAGE")"
    build "$BASE_IMAGE" "$ctx"
    drop_old "$old" "$BASE_IMAGE"
    rm -rf "$ctx"
    ctx=""
fi
base_id="$(image_id "$BASE_IMAGE")"

# ---- the job image: the base and testbed -----------------------------------

want="$(sum "$TESTBED")/${base_id#sha256:}/$RECIPE"
if [ "$(label "$IMAGE" org.testbed.job)" = "$want" ]; then
    say "$IMAGE is up to date"
    echo "$IMAGE"
    exit 0
fi
ctx="$(mktemp -d)"
cp "$TESTBED" "$ctx/testbed"
# The base's tag, not its id: BuildKit would look an id up in a registry. The
# lock above keeps the tag from moving meanwhile.
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
COPY testbed /usr/local/bin/testbed
LABEL org.testbed.job="$want"
DOCKERFILE
old="$(image_id "$IMAGE")"
say "building $IMAGE with $TESTBED"
build "$IMAGE" "$ctx"
# Every tool must start in the image, or the tests would fail obscurely later.
if ! out="$(docker run --rm --label org.testbed.job-image-check=1 "$IMAGE" sh -c \
    'testbed --version && docker --version && docker compose version && docker-compose version --short' 2>&1)"; then
    printf '%s\n' "$out" >&2
    docker image rm "$IMAGE" >/dev/null 2>&1 || true
    die "$IMAGE was built but one of its tools does not run (output above)"
fi
drop_old "$old" "$IMAGE"
say "built $IMAGE ($(image_id "$IMAGE" | cut -c1-19)): $(printf '%s' "$out" | tr '\n' ' ')"
echo "$IMAGE"
