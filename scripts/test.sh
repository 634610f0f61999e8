#!/usr/bin/env bash
# The one test command: dependencies, one debug build, then every test target.
# The integration tests run the binary this build produced (.build/debug/postern).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
swift build
# The TLS tests' throwaway PKI, made once before the tests start: generating it
# from inside a test run that has hundreds of tests in flight on two cores has
# missed its time bound.
certs=$(mktemp -d /tmp/postern-test-certs.XXXXXX)
trap 'rm -rf "$certs"' EXIT
bash scripts/gen-test-certs.sh "$certs"
export POSTERN_TEST_CERTS=$certs
swift test "$@"
