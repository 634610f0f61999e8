#!/usr/bin/env bash
# The one test command: dependencies, one debug build, then every test target.
# The integration tests run the binary this build produced (.build/debug/postern).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
swift build
swift test "$@"
