#!/usr/bin/env bash
# Builds the local image testbed-busybox:latest FROM scratch out of the host's
# static busybox (Debian package busybox-static). No registry is needed: nothing
# is pulled. Idempotent: when the image exists and carries the same busybox
# checksum and recipe revision in its labels, nothing is rebuilt.
set -euo pipefail

IMAGE="${TESTBED_BUSYBOX_IMAGE:-testbed-busybox:latest}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
# Bump when the Dockerfile below changes, so existing images get rebuilt.
RECIPE=2

die() { echo "build-images: error: $*" >&2; exit 1; }

[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing; install it with: apt-get install busybox-static"
# A dynamically linked busybox would not run in a scratch image.
if command -v file >/dev/null 2>&1 && [[ "$(file -L "$BUSYBOX")" != *"statically linked"* ]]; then
    die "$BUSYBOX is not statically linked; install it with: apt-get install busybox-static"
fi
command -v docker >/dev/null 2>&1 || die "docker client not found"

sum="$(sha256sum "$BUSYBOX" | cut -d' ' -f1)"
want="$sum/$RECIPE"
have="$(docker image inspect --format '{{index .Config.Labels "org.testbed.busybox"}}' "$IMAGE" 2>/dev/null || true)"
if [ "$have" = "$want" ]; then
    echo "build-images: $IMAGE is up to date"
    exit 0
fi

# Without the buildx plugin, the docker CLI can only use the legacy builder.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$BUSYBOX" "$ctx/busybox"
cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "-m", "1777", "/tmp"]
LABEL org.testbed.busybox="$want"
CMD ["/bin/sh"]
DOCKERFILE

old="$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
echo "build-images: building $IMAGE from $BUSYBOX"
if ! out="$(docker build -q -t "$IMAGE" "$ctx" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "docker build of $IMAGE failed"
fi
docker run --rm "$IMAGE" /bin/sh -c 'command -v httpd nc sleep wget >/dev/null' \
    || die "$IMAGE was built but does not run busybox applets"
# Drop the superseded image (best effort: a container may still use it).
if [ -n "$old" ] && [ "$old" != "$(docker image inspect --format '{{.Id}}' "$IMAGE")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
fi
echo "build-images: built $IMAGE ($(docker image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-19))"
