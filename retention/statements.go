package retention

import "github.com/milestone/husky/store"

// queries are retention's statements that differ between the engines.
type queries struct {
	heldAmong  string // order ids ($1, a list) under legal hold
	runOutcome string // $1 outcome, $2 erased_at, $3 run, $4 order ids (a list)
}

var statements = store.PerEngine[queries]{
	SQLite: queries{
		heldAmong:  `SELECT order_id FROM legal_holds WHERE order_id IN (SELECT value FROM json_each($1))`,
		runOutcome: `UPDATE purge_run_orders SET outcome = $1, erased_at = $2 WHERE run_id = $3 AND order_id IN (SELECT value FROM json_each($4))`,
	},
	PostgreSQL: queries{
		heldAmong:  `SELECT order_id FROM legal_holds WHERE order_id = ANY($1)`,
		runOutcome: `UPDATE purge_run_orders SET outcome = $1, erased_at = $2 WHERE run_id = $3 AND order_id = ANY($4)`,
	},
}
