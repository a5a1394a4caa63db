#!/usr/bin/env bash
# `npm run test:docker`: prepares podman (test/docker/podman-setup.sh: packages, a private
# configuration, the base images) and runs the compose end-to-end test (test/docker/stack.mjs).
set -euo pipefail
cd "$(dirname "$0")/../.."
setup=$(bash test/docker/podman-setup.sh)
eval "$setup"
exec node test/docker/stack.mjs
