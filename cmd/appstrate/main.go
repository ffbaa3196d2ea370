// Command appstrate is the one binary of the platform: server, sidecar, runner and command-line client.
package main

import (
	"os"

	"github.com/appstrate/appstrate-go/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
