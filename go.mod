module github.com/vsefab/vsefab

go 1.26.0

require google.golang.org/protobuf v1.36.12

require github.com/miekg/pkcs11 v1.1.1
