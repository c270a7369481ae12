// Package keyset is the seam where a customer's secrets enter the firmware. This checked-in
// version is the unprovisioned firmware: it holds no keyset, and every operation of a library
// built with it fails with vse.ErrUnprovisioned.
//
// A per-customer build does not edit this package. It links, in its place, a generated package
// with the same import path and the same Open function, whose keyset holds that customer's
// secrets as shares. Nothing else in the firmware changes between customers, so this package
// is the only code a reviewer compares between two customer builds.
package keyset

import "github.com/vsefab/vsefab/libs/vse"

// Open returns the firmware's keyset. The unprovisioned firmware has none, so it returns
// vse.ErrUnprovisioned.
func Open() (*vse.Keyset, error) {
	return nil, vse.ErrUnprovisioned
}
