// Command appstrate is the one binary of the platform: server, sidecar, runner and CLI client.
package main

import "fmt"

func main() { fmt.Println("appstrate") }
