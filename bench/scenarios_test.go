package main

import (
	"os"
	"testing"
	"time"

	"github.com/milestone/husky/store"
	"github.com/milestone/husky/store/storetest"
)

// TestScenariosThatWriteTheirOwnDataRunSmall runs, at a small size, the
// scenarios that write their data into the database directly rather than
// through the API: they are the ones a schema change breaks without any
// other test noticing (the vault's reference_hash once did, found only by
// the next make bench). The figures are not checked; that each scenario
// completes against the real binary is.
func TestScenariosThatWriteTheirOwnDataRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary several times")
	}
	storetest.SQLiteOnly(t, "these scenarios write SQLite rows; TestPostgresScenariosRunSmall runs the PostgreSQL rows")
	bin, err := buildBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := benchConfig{bin: bin, duration: time.Second, backlog: 2000, purge: 300, subjects: 2000,
		only: "backlog,purge,subjects,console,keys"}
	if err := runBench(cfg); err != nil {
		t.Fatal(err)
	}
}

// TestPostgresScenariosRunSmall runs make bench's PostgreSQL rows, small:
// one and two instances taking orders and delivering on one database, and
// the end-to-end rows (SQLite and PostgreSQL), each on a database
// created for the run. The figures are not checked; that every order
// submitted arrives at both recipients is.
func TestPostgresScenariosRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary several times")
	}
	if storetest.Engine() != store.PostgreSQL {
		t.Skip("the PostgreSQL half runs these (HUSKY_TEST_ENGINE=postgres)")
	}
	bin, err := buildBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := benchConfig{bin: bin, duration: time.Second, deliveries: 300, postgres: os.Getenv("HUSKY_TEST_POSTGRES"),
		only: "intake-postgres,delivery-postgres,end-to-end"}
	if err := runBench(cfg); err != nil {
		t.Fatal(err)
	}
}
