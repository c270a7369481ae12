#!/usr/bin/env bash
# Brings vendor/ in line with what the code imports, and regenerates vendor/'s BUILD files.
#
#   go mod tidy -> go mod vendor -> drop the BUILD/WORKSPACE files vendored modules ship
#   -> gazelle (pinned v0.26.0, built into .cache/bin) over vendor/ only
#   -> dropstd: remove deps on standard packages that gazelle v0.26.0 does not know
#      (its list is from Go 1.18, so it takes slices, maps, iter, ... for vendored packages).
#
# Safe to run again and again: the second run changes nothing. Our own packages' BUILD.bazel
# files are hand-written; gazelle is never pointed at them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

export GOTOOLCHAIN=local
export GOFLAGS=-modcacherw
export GOWORK=off

if command -v go >/dev/null 2>&1; then
	go=go
elif [[ -x /usr/local/go/bin/go ]]; then
	go=/usr/local/go/bin/go
else
	echo "update-deps: no Go toolchain found (neither 'go' on PATH nor /usr/local/go/bin/go); install Go 1.26" >&2
	exit 1
fi

bindir=$root/.cache/bin
gazelle=$bindir/gazelle
dropstd=$bindir/dropstd

# Gazelle v0.26.0 and dropstd, pinned with their dependencies by
# third_party/gotools/gazelle/go.{mod,sum}.
echo "update-deps: building gazelle and dropstd into .cache/bin" >&2
(cd third_party/gotools/gazelle && GOFLAGS=-modcacherw GOBIN=$bindir "$go" install \
	github.com/bazelbuild/bazel-gazelle/cmd/gazelle \
	github.com/vsefab/vsefab/third_party/gotools/gazelle/dropstd)

echo "update-deps: go mod tidy" >&2
"$go" mod tidy

echo "update-deps: go mod vendor" >&2
"$go" mod vendor
if [[ ! -d vendor ]]; then
	echo "update-deps: no external dependencies, nothing vendored" >&2
	exit 0
fi

# BUILD files that modules ship describe their own repository layout (buildtools' pull in
# goyacc, for one); ours are generated below instead. WORKSPACE files would split packages.
find vendor -type f \( -name BUILD -o -name BUILD.bazel -o -name WORKSPACE -o -name WORKSPACE.bazel \
	-o -name MODULE.bazel -o -name REPO.bazel \) -delete

echo "update-deps: gazelle over vendor/" >&2
# -external=vendored: imports that vendor/ does not hold resolve to //vendor/... too, never to
# go_repository names. Directives (prefix, naming convention, no proto rules) come from the
# root BUILD.bazel.
"$gazelle" update -repo_root="$root" -external=vendored -build_file_name=BUILD.bazel vendor

stdlist=$(mktemp)
trap 'rm -f "$stdlist"' EXIT
"$go" list std >"$stdlist"
find vendor -name BUILD.bazel -print0 | xargs -0 "$dropstd" -std "$stdlist" -prefix //vendor/

echo "update-deps: done; $(find vendor -name BUILD.bazel | wc -l) vendored packages" >&2
