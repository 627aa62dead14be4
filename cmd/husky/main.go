// Command husky is the Husky order service: the HTTP API and its workers
// (`husky serve`) and the operators' commands. It only delegates: package
// cli reads the command line, package app wires the packages together,
// and every rule lives in those packages.
package main

import (
	"context"
	"io"
	"os"

	"github.com/milestone/husky/cli"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: the end-to-end tests call it as main does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, args, stdout, stderr)
}
