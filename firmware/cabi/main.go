// Command cabi is the firmware's C ABI: the functions a mobile app calls in the shared or
// static library built from this package with -buildmode=c-shared or -buildmode=c-archive.
// The generated header declares them, with the return codes and the calling rules.
//
// The library holds whatever keyset package it was linked with. Built from this repository
// as it is, that is the unprovisioned firmware, and every operation returns
// VSE_ERR_UNPROVISIONED; a per-customer build links the customer's generated keyset package.
//
// The code is in three layers so that all of it except the last is testable without cgo:
// ops.go works on Go slices, args.go turns the caller's pointers and lengths into slices and
// stops panics, and exports.go only converts C types for args.go.
package main

// main is required by the c-shared and c-archive build modes and never runs.
func main() {}
