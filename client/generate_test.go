package client

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTheClientIsGeneratedFromTheDocument generates the client again from
// app/openapi.json, with the pinned oapi-codegen (go.mod's tool), and fails
// when client.gen.go differs: the document changed and `go generate
// ./client` was not run.
func TestTheClientIsGeneratedFromTheDocument(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oapi-codegen")
	}
	// The same configuration, writing elsewhere.
	config, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "client.gen.go")
	config = bytes.Replace(config, []byte("\noutput: client.gen.go\n"), []byte("\noutput: "+out+"\n"), 1)
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), config, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", filepath.Join(dir, "config.yaml"), "../app/openapi.json")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, kept) {
		t.Fatal("client.gen.go is stale: run `go generate ./client` and commit the result")
	}
}
