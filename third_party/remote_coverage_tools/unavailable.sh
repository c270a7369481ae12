#!/bin/sh
# Stand-in for a tool of Bazel's @remote_coverage_tools, which is not available offline.
echo "vsefab: Bazel's coverage tools (@remote_coverage_tools) are not available on these" >&2
echo "machines, so 'bazel coverage' does not work here. Measure coverage with" >&2
echo "'go test -cover ./...' instead." >&2
exit 1
