// Command hellocgo is hello linked as vsefab is, with cgo: the start-up benchmarks use it to
// tell what the dynamic linking cgo brings costs from what vsefab itself does.
package main

// #include <stdlib.h>
import "C"

import "fmt"

func main() {
	_ = C.abs(0)
	fmt.Println("hello")
}
