module github.com/vsefab/vsefab

go 1.26.0

require google.golang.org/protobuf v1.36.12

require (
	github.com/bazelbuild/buildtools v0.0.0-20260904073137-eaa4d125b423
	github.com/creack/pty v1.1.24
	github.com/miekg/pkcs11 v1.1.1
	golang.org/x/term v0.48.0
)

require golang.org/x/sys v0.50.0
