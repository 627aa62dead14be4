package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/milestone/husky/partners"
)

// BenchmarkPurge measures a purge of b.N orders, each disclosed to two
// recipients, in process.
func BenchmarkPurge(b *testing.B) {
	e := newTestEnv(b)
	ctx := context.Background()
	var ids []string
	for _, p := range []partners.NewPartner{
		{Kind: partners.KindLogistics, Name: "L", EndpointURL: "http://127.0.0.1:9/"},
		{Kind: partners.KindManufacturer, Name: "M", EndpointURL: "http://127.0.0.1:9/"},
	} {
		pp, _, err := e.app.Partners.Add(ctx, "bench", p)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, pp.ID)
	}
	var buf bytes.Buffer
	for i := range b.N {
		var m map[string]any
		json.Unmarshal([]byte(sampleOrder(b, withRef(fmt.Sprint("PO-", i)))), &m)
		m["reseller_id"], m["status"] = e.resellerA.ID, "delivered"
		m["created_at"], m["closed_at"] = "2019-03-01T10:00:00Z", "2019-03-05T10:00:00Z"
		m["disclosed_to"] = ids
		line, _ := json.Marshal(m)
		buf.Write(append(line, '\n'))
	}
	if rep, err := e.app.Orders.Import(ctx, "bench", buf.Bytes(), false); err != nil || rep.Imported != b.N {
		b.Fatalf("import: %v %+v", err, rep.Invalid)
	}
	// The erasure work alone, without the rests a purge takes between
	// batches for the API's sake.
	e.app.Purger.Yield = -1
	b.ResetTimer()
	run, err := e.app.Purger.PurgeNow(ctx, "bench")
	if err != nil || run.Counts.Erased != b.N {
		b.Fatalf("purge: %+v %v", run.Counts, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
