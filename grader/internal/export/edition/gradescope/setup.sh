#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image. It installs Go and
# bubblewrap, builds the grader from the trusted workbook that the autograder zip holds
# (/autograder/source), and grades that workbook's starters once, so that the build cache holds
# the dependencies before the first submission.
set -euo pipefail

GO_VERSION=1.26.8
AUTOGRADER="${AUTOGRADER:-/autograder}"

apt-get update -qq
apt-get install -y -qq --no-install-recommends bubblewrap ca-certificates curl git
curl -fsSL "https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz" | tar -C /usr/local -xz
export PATH="/usr/local/go/bin:$PATH"

cd "$AUTOGRADER/source"
go mod download
go build -o /usr/local/bin/workbook-grader ./grader
workbook-grader -q -no-cache -format json -o /dev/null || true
