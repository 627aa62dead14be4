package store

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// PerEngine holds what differs between the engines, written out for both
// side by side: most often a package's statements that differ (locking,
// index hints, lists, conversions), once the dispatcher's way of claiming.
// Statements both engines take as they are stay plain constants; every
// statement numbers its parameters $1, $2, … in the order they first
// appear, which both engines read the same way.
type PerEngine[T any] struct {
	SQLite     T
	PostgreSQL T
}

// For returns the statements of engine e (a DB's Engine, a Tx's Engine()).
func (s *PerEngine[T]) For(e Engine) *T {
	if e == PostgreSQL {
		return &s.PostgreSQL
	}
	return &s.SQLite
}

// List returns vs, a slice of strings, integers or byte strings, as the
// one parameter that stands for a list in a statement: JSON text on
// SQLite, which the statement reads as IN (SELECT value FROM
// json_each($n)), byte strings as hex (SELECT unhex(value) …); an array
// on PostgreSQL, read as = ANY($n). An empty or nil slice is an empty list.
func (db *DB) List(vs any) any { return List(db.Engine, vs) }

// List is DB.List for the engine of tx.
func (tx *Tx) List(vs any) any { return List(tx.engine, vs) }

// Engine is the engine tx runs on.
func (tx *Tx) Engine() Engine { return tx.engine }

// List is DB.List for engine e.
func List(e Engine, vs any) any {
	switch v := vs.(type) {
	case []string, []int64:
		if e == PostgreSQL {
			return vs
		}
	case [][]byte:
		if e == PostgreSQL {
			return vs
		}
		hexes := make([]string, len(v))
		for i, b := range v {
			hexes[i] = hex.EncodeToString(b)
		}
		vs = hexes
	default:
		// A list of anything else might reach the statement as JSON it
		// cannot compare (bytes as base64): a programming error.
		panic(fmt.Sprintf("store: a list of %T", vs))
	}
	b, err := json.Marshal(vs)
	if err != nil || string(b) == "null" {
		return "[]"
	}
	return string(b)
}
