package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary builds the real husky binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "husky-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "husky")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// husky runs one CLI command with --json against db and decodes its output.
func husky(t *testing.T, env []string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(binary(t), append(args, "--json")...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("husky %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var m map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("husky %s printed no JSON: %s", strings.Join(args, " "), stdout.String())
	}
	return m
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is a running `husky serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan error
}

func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	s := &server{url: "http://" + addr, stderr: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(binary(t), append([]string{"serve"}, args...)...)
	s.cmd.Env = append(append(os.Environ(), env...), "HUSKY_ADDR="+addr)
	s.cmd.Stderr = s.stderr
	s.cmd.Stdout = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.cmd.Process.Kill() })
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(s.url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("husky serve exited: %v\n%s", err, s.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("husky serve not ready\n%s", s.stderr.String())
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("husky serve exited with %v after SIGTERM\n%s", err, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("husky serve did not stop after SIGTERM")
	}
}

func TestEndToEndSubmitAndReadBack(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "husky.db")
	env := append(dbEnv(t, db), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true")
	if v := husky(t, env, "migrate"); v["version"] == nil {
		t.Fatalf("migrate: %v", v)
	}
	p := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "E2E Reseller")["partner"].(map[string]any)
	key := husky(t, env, "keys", "create", "--role", "reseller", "--partner", p["id"].(string))["api_key"].(string)
	if !strings.HasPrefix(key, "husky_reseller_") {
		t.Fatalf("key %q lacks its prefix", key)
	}

	s := startServer(t, env)
	req, _ := http.NewRequest("POST", s.url+"/v1/orders", strings.NewReader(sampleOrder(t)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created map[string]any
	json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("submit: %d %v", res.StatusCode, created)
	}
	s.stop(t)

	// The order survives a restart.
	s = startServer(t, env)
	req, _ = http.NewRequest("GET", s.url+"/v1/orders/"+created["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.NewDecoder(res.Body).Decode(&got)
	res.Body.Close()
	if res.StatusCode != 200 || got["reference"] != "PO-2026-0042" || got["customer"].(map[string]any)["phone"] != "+4533123456" {
		t.Fatalf("read back: %d %v", res.StatusCode, got)
	}
	s.stop(t)
	if strings.Contains(s.stderr.String(), "Jane Doe") || strings.Contains(s.stderr.String(), "jane@example.dk") {
		t.Error("server output contains personal data")
	}
}

func TestCLIRefusesBadInputWithExitCode(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "husky.db")
	for _, args := range [][]string{
		{"partners", "add", "--kind", "logistics", "--name", "X", "--endpoint", "https://example.com/h", "--fields", "phone,name"},
		{"partners", "add", "--kind", "pirate", "--name", "X"},
		{"keys", "create", "--role", "reseller"},
		{"keys", "revoke", "key_nope"},
		{"nonsense"},
	} {
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(os.Environ(), "HUSKY_DB="+db)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("husky %s succeeded: %s", strings.Join(args, " "), out)
		}
	}
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append(os.Environ(), "HUSKY_DB="+db, "HUSKY_FISCAL_YEAR_START=13", "HUSKY_FISCAL_TZ=Mars/Base")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "HUSKY_FISCAL_YEAR_START") || !strings.Contains(string(out), "HUSKY_FISCAL_TZ") {
		t.Errorf("bad config not explained: %v %s", err, out)
	}
}

func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "husky.db")
	env := dbEnv(t, db)
	p := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	key := husky(t, env, "keys", "create", "--role", "reseller", "--partner", p["id"].(string))["api_key"].(string)
	s := startServer(t, env)

	body := sampleOrder(t)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", s.url+"/v1/orders", pr)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	type answer struct {
		status int
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		res.Body.Close()
		done <- answer{status: res.StatusCode}
	}()
	// Half the body is on the wire when the signal arrives.
	if _, err := pw.Write([]byte(body[:len(body)/2])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	pw.Write([]byte(body[len(body)/2:]))
	pw.Close()
	a := <-done
	if a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("in-flight request during shutdown: %d %v", a.status, a.err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
