package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/cli"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is an app.App on a temp database behind a real HTTP server, with two
// resellers and keys of every role.
type testEnv struct {
	app                  *app.App
	srv                  *httptest.Server
	logs                 *syncBuffer
	resellerA, resellerB partners.Partner
	keyA, keyB           string
	finance, admin       string
	privacy              string
}

// dbEnv is the environment that points the binary at a new database for
// t: the SQLite file path, with its keyring and audit key beside it by
// default; or, in the PostgreSQL half of the suite, a database of its own
// on the server, with the keyring and audit key at the same paths, so that
// a test finds them where it looks on either engine.
func dbEnv(t testing.TB, path string) []string {
	t.Helper()
	// The record of processing is refused without the two contacts
	// (TestTheRecordOfProcessingTellsTheTruth checks that default).
	contacts := []string{"HUSKY_CONTROLLER_CONTACT=" + testControllerContact, "HUSKY_DPO_CONTACT=" + testDPOContact}
	if storetest.Engine() == store.SQLite {
		return append([]string{"HUSKY_DB=" + path}, contacts...)
	}
	return append([]string{"HUSKY_DB=" + storetest.DSN(t), "HUSKY_KEYRING=" + path + ".keys", "HUSKY_AUDIT_KEY=" + path + ".audit-key"}, contacts...)
}

// The contacts the tests' record of processing names.
const (
	testControllerContact = "privacy@example.com"
	testDPOContact        = "dpo@example.com, +45 70 00 00 00"
)

func testConfig(t testing.TB) app.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "husky.db")
	vars := map[string]string{"HUSKY_DB": path, "HUSKY_ALLOW_PRIVATE_ENDPOINTS": "true",
		"HUSKY_RETRY_SCHEDULE": "50ms,100ms,200ms", "HUSKY_RATE_LIMIT": "off",
		"HUSKY_CONTROLLER_CONTACT": testControllerContact, "HUSKY_DPO_CONTACT": testDPOContact}
	if storetest.Engine() == store.PostgreSQL {
		vars["HUSKY_DB"], vars["HUSKY_KEYRING"], vars["HUSKY_AUDIT_KEY"] = storetest.DSN(t), path+".keys", path+".audit-key"
	}
	cfg, err := configWith(vars)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newTestEnv(t testing.TB) *testEnv { return newTestEnvWith(t, nil) }

// newTestEnvWith is newTestEnv with the configuration changed by edit.
func newTestEnvWith(t testing.TB, edit func(*app.Config)) *testEnv {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e := &testEnv{app: a, logs: logs}
	e.resellerA, e.keyA = e.addReseller(t, "Reseller A")
	e.resellerB, e.keyB = e.addReseller(t, "Reseller B")
	_, e.finance, err = a.Partners.CreateKey(ctx, "test", partners.RoleFinance, "")
	if err != nil {
		t.Fatal(err)
	}
	_, e.admin, err = a.Partners.CreateKey(ctx, "test", partners.RoleAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	_, e.privacy, err = a.Partners.CreateKey(ctx, "test", partners.RolePrivacy, "")
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(a.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *testEnv) addReseller(t testing.TB, name string) (partners.Partner, string) {
	t.Helper()
	ctx := context.Background()
	p, _, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindReseller, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := e.app.Partners.CreateKey(ctx, "test", partners.RoleReseller, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p, key
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %s", r.status, r.body)
	}
	return m
}

// do sends a request; headers alternate name, value.
func (e *testEnv) do(t *testing.T, method, path, key string, body io.Reader, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func sampleOrder(t testing.TB, edits ...func(m map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/orders/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func withRef(ref string) func(map[string]any) {
	return func(m map[string]any) { m["reference"] = ref }
}

func (e *testEnv) submit(t *testing.T, key string, body string) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/v1/orders", key, strings.NewReader(body))
	if r.status != http.StatusCreated {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	return r.json(t)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func ioReadAll(res *http.Response) ([]byte, error) { return io.ReadAll(res.Body) }

var execCommand = exec.Command

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runExit runs the binary with env and returns its exit code and output.
func runExit(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// configWith reads the configuration as a command does, with vars over
// the process's HUSKY_ variables (tests run in parallel: no t.Setenv).
func configWith(vars map[string]string) (app.Config, error) {
	return cli.ConfigFrom(func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return os.Getenv(name)
	})
}
