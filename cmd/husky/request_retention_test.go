package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/subjects"
)

// Records about requests are personal data too: a completed request, its
// steps and its identifier hashes are kept 3 years after completion by
// default, then deleted by the purge, which reports them; an open request,
// and a completed one covering an order under a legal hold, are kept.
func TestRequestRecordsAreDeletedByThePurgeAfterTheirRetention(t *testing.T) {
	t.Parallel()
	if cfg := testConfig(t); cfg.RequestRetentionYears != 3 {
		t.Fatalf("default request retention %d years, want 3 (the Danish limitation period)", cfg.RequestRetentionYears)
	}
	e := newTestEnv(t)
	ctx := context.Background()
	emailOf := func(ref string) string {
		body, vals := canaryOrder(t, ref)
		e.submit(t, e.keyA, body)
		for _, v := range vals {
			if strings.HasSuffix(v, "@canary.example") {
				return v
			}
		}
		t.Fatal("no email")
		return ""
	}
	open := func(email string) *subjects.Request {
		r, err := e.app.Subjects.Open(ctx, "test", subjects.NewRequest{Type: subjects.TypeAccess, Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	done := open(emailOf("DONE-0001"))
	stillOpen := open(emailOf("OPEN-0002"))
	heldReq := open(emailOf("HELD-0003"))
	for _, r := range []*subjects.Request{done, heldReq} {
		if _, err := e.app.Subjects.Complete(ctx, "test", r.ID); err != nil {
			t.Fatal(err)
		}
	}
	full, err := e.app.Subjects.Get(ctx, heldReq.ID)
	if err != nil || len(full.Orders) == 0 {
		t.Fatalf("the held request's orders: %+v %v", full, err)
	}
	if _, err := e.app.Holds.Place(ctx, "test", full.Orders[0].OrderID, "tax audit"); err != nil {
		t.Fatal(err)
	}

	// Within the retention nothing is due.
	rep, err := e.app.Reporter.Report(ctx, time.Now())
	if err != nil || len(rep.SubjectRequests.Due) != 0 || rep.SubjectRequests.RetentionYears != 3 {
		t.Fatalf("report now: %+v %v", rep.SubjectRequests, err)
	}
	later := time.Now().AddDate(3, 0, 2)
	rep, err = e.app.Reporter.Report(ctx, later)
	if err != nil || !slices.Equal(rep.SubjectRequests.Due, []string{done.ID}) || rep.SubjectRequests.Kept != 1 {
		t.Fatalf("report three years on: %+v %v", rep.SubjectRequests, err)
	}
	e.app.Purger.Clock = func() time.Time { return later }
	run, err := e.app.Purger.PurgeNow(ctx, "test")
	if err != nil || run.Counts.Requests != 1 {
		t.Fatalf("purge: %+v %v", run.Counts, err)
	}
	if _, err := e.app.Subjects.Get(ctx, done.ID); !errors.Is(err, subjects.ErrNotFound) {
		t.Errorf("the completed request after its retention: %v, want it gone", err)
	}
	for _, id := range []string{stillOpen.ID, heldReq.ID} {
		if _, err := e.app.Subjects.Get(ctx, id); err != nil {
			t.Errorf("%s was deleted: %v", id, err)
		}
	}
	if v, err := e.app.Audit.Verify(ctx, nil); err != nil || !v.OK {
		t.Errorf("the trail after the deletion: %+v %v", v, err)
	}
}
