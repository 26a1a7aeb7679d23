# Functions the scripts share. Source it: . "$here/lib.sh"

# Whether $1 is statically linked, so that it runs in a scratch image. `file`
# says "static-pie linked" for Rust's crt-static binaries; without `file`,
# ldd (always there with glibc) says "statically linked" or "not a dynamic
# executable".
is_static() {
    local what
    if command -v file >/dev/null 2>&1; then
        what="$(file -L "$1")"
        [[ "$what" == *"statically linked"* || "$what" == *"static-pie linked"* ]]
    else
        what="$(ldd "$1" 2>&1 || true)"
        [[ "$what" == *"statically linked"* || "$what" == *"not a dynamic executable"* ]]
    fi
}
