package audit

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/milestone/husky/api"
)

// ProvenEntry is an entry with what a client needs to check it against a
// checkpoint: Leaf is the canonical bytes whose RFC 6962 record hash is the
// leaf, Proof the inclusion proof (base64 hashes) in the checkpoint's tree.
type ProvenEntry struct {
	Entry
	Leaf     string   `json:"leaf"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof"`
}

// Prove returns the entries with inclusion proofs in the tree of cp.
func (l *Log) Prove(ctx context.Context, cp Checkpoint, entries []Entry) ([]ProvenEntry, error) {
	out := make([]ProvenEntry, 0, len(entries))
	r := hashReader{ctx, l.DB.Reader, l.DB.Engine}
	for _, e := range entries {
		if e.Pending || e.Seq >= cp.TreeSize {
			continue
		}
		p, err := tlog.ProveRecord(cp.TreeSize, e.Seq, r)
		if err != nil {
			return nil, fmt.Errorf("prove entry %d: %w", e.Seq, err)
		}
		data := e.LeafData()
		pe := ProvenEntry{Entry: e, Leaf: string(data), LeafHash: tlog.RecordHash(data).String(), Proof: make([]string, len(p))}
		for i, h := range p {
			pe.Proof[i] = h.String()
		}
		out = append(out, pe)
	}
	return out, nil
}

// API serves the audit endpoints to admin keys.
type API struct{ Log *Log }

// Register mounts the audit routes on r, which must authenticate admins.
func (a *API) Register(r gin.IRoutes) {
	r.GET("/v1/audit/checkpoint", a.checkpoint)
	r.GET("/v1/audit/entries", a.entries)
}

func (a *API) checkpoint(c *gin.Context) {
	cp, err := a.Log.Checkpoint(c.Request.Context())
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"checkpoint": cp, "verifier_key": a.verifierKey()})
}

func (a *API) verifierKey() string { return a.Log.Key.Public }

func (a *API) entries(c *gin.Context) {
	orderID := c.Query("order_id")
	if orderID == "" {
		api.Abort(c, api.Invalid([]api.FieldError{{Parameter: "order_id", Code: "required", Detail: "name the order whose entries to return"}}))
		return
	}
	ctx := c.Request.Context()
	cp, err := a.Log.Checkpoint(ctx)
	if err != nil {
		api.Abort(c, err)
		return
	}
	es, err := a.Log.ByOrder(ctx, orderID, 1000)
	if err != nil {
		api.Abort(c, err)
		return
	}
	proven, err := a.Log.Prove(ctx, cp, es)
	if err != nil {
		api.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"checkpoint": cp, "data": proven})
}
