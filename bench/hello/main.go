// Command hello is the baseline of the start-up benchmarks: the least a Go process does.
package main

import "fmt"

func main() {
	fmt.Println("hello")
}
