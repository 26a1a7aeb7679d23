#!/usr/bin/env bash
# Builds a statically linked testbed: it loads no shared library, so it runs
# on any x86_64 Linux, glibc or musl (Alpine, the docker:cli image), and in a
# FROM scratch image. With Rust's musl target installed (rustup target add
# x86_64-unknown-linux-musl) it builds for that; else it links glibc
# statically (-C target-feature=+crt-static, which needs glibc's static
# libraries: Debian's libc6-dev).
#
# Usage: scripts/static-binary.sh [--debug]
#   Builds the release profile (--debug: the debug one, quicker to build)
#   into target/static and prints the binary's path on stdout, cargo's
#   progress on stderr. A release build is also copied to
#   target/static/testbed, where the top-level Dockerfile takes it from.
#   CARGO names another cargo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
. "$here/lib.sh"

say() { echo "static-binary: $*" >&2; }
die() { echo "static-binary: error: $*" >&2; exit 1; }

profile=release
case "${1:-}" in
    "") ;;
    --debug) profile=debug ;;
    *) die "usage: $0 [--debug]" ;;
esac
[ "$#" -le 1 ] || die "usage: $0 [--debug]"

cargo="${CARGO:-cargo}"
command -v "$cargo" >/dev/null 2>&1 || die "cargo not found (install Rust: https://rustup.rs)"

# musl where the toolchain has it: static by default, no glibc caveats.
target=x86_64-unknown-linux-gnu
if sysroot="$(rustc --print sysroot 2>/dev/null)" \
    && [ -d "$sysroot/lib/rustlib/x86_64-unknown-linux-musl/lib" ]; then
    target=x86_64-unknown-linux-musl
fi

flags=()
[ "$profile" = debug ] || flags+=(--release)
say "building a static testbed ($profile, $target) into target/static"
# Only the flags below may shape this build: a RUSTFLAGS or build target of
# the caller's environment (or of cargo test's) would change what is linked.
if ! (cd "$root" && env -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_BUILD_TARGET \
    RUSTFLAGS="-C target-feature=+crt-static" \
    "$cargo" build --quiet "${flags[@]}" --bin testbed --target "$target" --target-dir target/static >&2); then
    die "cargo build of the static testbed failed (output above)"
fi
bin="$root/target/static/$target/$profile/testbed"
[ -x "$bin" ] || die "cargo built no $bin"
is_static "$bin" || die "$bin is not statically linked: $(file -L "$bin" 2>/dev/null || ldd "$bin" 2>&1)"

if [ "$profile" = release ]; then
    # Through a temporary name, so a docker build never reads half a file.
    cp "$bin" "$root/target/static/testbed.$$"
    mv -f "$root/target/static/testbed.$$" "$root/target/static/testbed"
    bin="$root/target/static/testbed"
fi
echo "$bin"
