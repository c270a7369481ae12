module github.com/vsefab/vsefab/third_party/gotools/gazelle

go 1.26

tool github.com/bazelbuild/bazel-gazelle/cmd/gazelle

require github.com/bazelbuild/buildtools v0.0.0-20220531122519-a43aed7014c8

require (
	github.com/bazelbuild/bazel-gazelle v0.26.0 // indirect
	github.com/bmatcuk/doublestar/v4 v4.0.2 // indirect
	github.com/pelletier/go-toml v1.9.5 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	golang.org/x/mod v0.6.0-dev.0.20220419223038-86c51ed26bb4 // indirect
	golang.org/x/sync v0.0.0-20220601150217-0de741cfad7f // indirect
	golang.org/x/sys v0.0.0-20220624220833-87e55d714810 // indirect
	golang.org/x/tools v0.1.11 // indirect
)
