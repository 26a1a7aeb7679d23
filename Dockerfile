# The CI job image: testbed on top of an image with the docker CLI and the
# compose v2 plugin, by default the official docker:cli (Alpine, musl). The
# binary is the static one scripts/static-binary.sh builds and copies to
# target/static/testbed, so it runs on musl and glibc bases alike:
#
#   bash scripts/static-binary.sh
#   docker build -t registry.example.com/ci/testbed .
#
# scripts/job-image.sh does both; --base IMAGE (or --build-arg BASE_IMAGE=…)
# puts testbed on another image.
ARG BASE_IMAGE=docker:cli
FROM ${BASE_IMAGE}

# A base without the tools fails the build here, saying what is missing, and
# no image gets the tag. GitLab runs a job's script: with the image's shell,
# so a base without /bin/sh fails this step too. (The first step, so that a
# failed build leaves no intermediate image behind.)
RUN if ! command -v docker >/dev/null 2>&1; then \
        echo "testbed job image: no docker CLI in the base image (no \`docker\` on PATH=$PATH)" >&2; \
        exit 1; \
    fi; \
    if ! docker compose version >/dev/null 2>&1; then \
        echo "testbed job image: no docker compose v2 plugin in the base image (\`docker compose version\` fails)" >&2; \
        exit 1; \
    fi

ARG TESTBED_BINARY=target/static/testbed
COPY ${TESTBED_BINARY} /usr/local/bin/testbed
RUN testbed --version && docker --version && docker compose version

# docker:cli's entrypoint (docker-entrypoint.sh) rewrites the command it is
# given (a first word that is a docker subcommand becomes `docker …`) and
# sets DOCKER_HOST when it finds none. A job image runs what GitLab hands it
# as it is, and testbed finds the daemon from the job's own DOCKER_HOST.
ENTRYPOINT []
CMD ["sh"]
