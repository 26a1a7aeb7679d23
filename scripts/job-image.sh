#!/usr/bin/env bash
# Builds the CI job image from a checkout: a static testbed
# (scripts/static-binary.sh), put by the top-level Dockerfile on an image
# with the docker CLI and the compose v2 plugin.
#
# Usage: scripts/job-image.sh [--base IMAGE] [--tag TAG] [--debug]
#   --base IMAGE  the image testbed goes on (default: docker:cli, the official
#                 docker CLI image); it needs /bin/sh, the docker CLI and the
#                 compose v2 plugin
#   --tag TAG     the image's name (default: testbed:latest)
#   --debug       a debug build of testbed: quicker to build, to try things
# Prints the tag on stdout, progress on stderr. A base that lacks one of the
# tools fails the build with a message naming it, and no image is tagged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

say() { echo "job-image: $*" >&2; }
die() { echo "job-image: error: $*" >&2; exit 1; }
usage() { die "usage: $0 [--base IMAGE] [--tag TAG] [--debug]"; }

base=docker:cli
tag=testbed:latest
binary_flags=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --base) [ "$#" -ge 2 ] && [ -n "$2" ] || usage; base="$2"; shift 2 ;;
        --tag) [ "$#" -ge 2 ] && [ -n "$2" ] || usage; tag="$2"; shift 2 ;;
        --debug) binary_flags=(--debug); shift ;;
        *) usage ;;
    esac
done

command -v docker >/dev/null 2>&1 || die "docker client not found on PATH"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (\`docker info\` fails)"

binary="$(bash "$here/static-binary.sh" "${binary_flags[@]}")" || die "cannot build a static testbed (output above)"

# Its own context, holding the Dockerfile and the binary where the
# Dockerfile takes it from: the build reads nothing else of the checkout.
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/target/static"
cp "$root/Dockerfile" "$ctx/Dockerfile"
cp "$binary" "$ctx/target/static/testbed"

# Without the buildx plugin, the docker CLI can only use the legacy builder.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
fi

# --force-rm: the legacy builder keeps the container of a failed step.
args=(build --force-rm -t "$tag" --build-arg "BASE_IMAGE=$base")
say "building $tag on $base with $binary"
# docker build tags only an image whose every step passed.
if ! out="$(docker "${args[@]}" "$ctx" 2>&1)"; then
    # The Dockerfile's check says what the base lacks: a line of its own,
    # after the colour (legacy builder) or step and time (BuildKit) prefix.
    missing="$(printf '%s\n' "$out" \
        | sed -n -E 's/^(\x1b\[[0-9;]*m)?(#[0-9]+ [0-9.]+ )?testbed job image: //p' | head -n 1)"
    if [ -n "$missing" ]; then
        die "$base: $missing"
    elif [[ "$out" == *'"/bin/sh"'*"no such file"* ]]; then
        die "$base: no /bin/sh in the base image, which GitLab runs a job's script: with (and testbed needs the docker CLI and the compose v2 plugin there)"
    fi
    printf '%s\n' "$out" >&2
    die "docker build of $tag failed (output above)"
fi
say "built $tag ($(docker image inspect --format '{{.Id}}' "$tag" | cut -c1-19))"
echo "$tag"
