package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/subjects"
)

// Subject rights one can trust: each test here fails on the service as it
// was before candidates, per-type actions, month deadlines, person-bound
// restrictions and answered erasure notices.

// candidate returns a request's candidate order id's field.
func candidate(t *testing.T, req map[string]any, orderID, field string) any {
	t.Helper()
	for _, c := range req["candidates"].([]any) {
		m := c.(map[string]any)
		if m["order_id"] == orderID {
			return m[field]
		}
	}
	t.Fatalf("%s is not a candidate of %v", orderID, req["id"])
	return nil
}

func (e *subjectEnv) householdOrders(t *testing.T) (jane, john string) {
	t.Helper()
	jane = e.order(t, e.keyA, "PO-JANE", "jane@example.dk", "+4533123456")
	john = e.submit(t, e.keyB, sampleOrder(t, withRef("PO-JOHN"), func(m map[string]any) {
		m["customer"] = map[string]any{"name": "John Roe", "email": "john@example.dk", "phone": "+45 33 12 34 56"}
		m["ship_to"].(map[string]any)["line1"] = "Nabovej 7"
	}))["id"].(string)
	e.shared(t, jane, john)
	return jane, john
}

func TestASharedPhoneDoesNotMakeTwoPeopleOne(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	jane, john := e.householdOrders(t)

	both := e.request(t, `{"type":"access","email":"jane@example.dk","phone":"+4533123456"}`)
	if got := candidate(t, both, john, "state"); got != "needs_review" || candidate(t, both, john, "reason") != "email differs" {
		t.Errorf("John's order in Jane's request: %v (%v)", got, candidate(t, both, john, "reason"))
	}
	if got := fmt.Sprint(candidate(t, both, john, "matched_on")); got != "[phone]" {
		t.Errorf("matched on %s", got)
	}
	if got := ids(both["orders"]); strings.Join(got, ",") != jane {
		t.Errorf("included %v, want Jane's order only", got)
	}
	id := both["id"].(string)
	export := e.do(t, "GET", "/v1/subject-requests/"+id+"/export", e.privacy, nil)
	for _, v := range []string{"john@example.dk", "John Roe", "Nabovej", john} {
		if strings.Contains(string(export.body), v) {
			t.Errorf("Jane's access export holds %q", v)
		}
	}
	if !strings.Contains(string(export.body), "jane@example.dk") {
		t.Errorf("Jane's export lacks her own data: %.300s", export.body)
	}

	// A phone alone finds two people: both orders wait for the DPO.
	byPhone := e.request(t, `{"type":"access","phone":"+4533123456"}`)
	for _, o := range []string{jane, john} {
		if got := candidate(t, byPhone, o, "state"); got != "needs_review" ||
			!strings.Contains(fmt.Sprint(candidate(t, byPhone, o, "reason")), "2 different emails") {
			t.Errorf("%s by phone alone: %v %v", o, got, candidate(t, byPhone, o, "reason"))
		}
	}
	if len(byPhone["orders"].([]any)) != 0 {
		t.Errorf("a phone alone included %v", byPhone["orders"])
	}

	// Rectification changes Jane's order, never John's, and tells only
	// the recipients of Jane's order.
	rect := e.request(t, `{"type":"rectification","email":"jane@example.dk","phone":"+4533123456"}`)
	r := e.do(t, "POST", "/v1/subject-requests/"+rect["id"].(string)+"/rectify", e.privacy, strings.NewReader(`{"customer":{"phone":"+4540404040"}}`))
	if r.status != 200 || strings.Contains(string(r.body), john) {
		t.Fatalf("rectify: %d %s", r.status, r.body)
	}
	view := e.do(t, "GET", "/v1/admin/orders/"+john, e.admin, nil).json(t)["order"].(map[string]any)["customer"].(map[string]any)
	if view["phone"] != "+4533123456" {
		t.Errorf("John's phone was changed by Jane's rectification: %v", view["phone"])
	}
	waitUntil(t, "order.updated for Jane's order", func() bool { return e.carrierSink.bodyOf(jane, "order.updated") != nil })
	if e.carrierSink.bodyOf(john, "order.updated") != nil {
		t.Error("John's recipients were sent Jane's rectification")
	}

	// The DPO decides, with a reason that stays out of the audit trail.
	bad := e.do(t, "POST", "/v1/subject-requests/"+id+"/orders", e.privacy, strings.NewReader(`{"include":["ord_nope"],"reason":""}`))
	if bad.status != 422 || !strings.Contains(string(bad.body), `"/include/0"`) || !strings.Contains(string(bad.body), `"/reason"`) {
		t.Errorf("a bad decision: %d %s", bad.status, bad.body)
	}
	bad = e.do(t, "POST", "/v1/subject-requests/"+id+"/orders", e.privacy, strings.NewReader(`{"include":["ord_nope"],"reason":"checked"}`))
	if bad.status != 422 || !strings.Contains(string(bad.body), "not_a_candidate") {
		t.Errorf("a stranger's order: %d %s", bad.status, bad.body)
	}
	d := e.do(t, "POST", "/v1/subject-requests/"+id+"/orders", e.privacy,
		strings.NewReader(fmt.Sprintf(`{"exclude":[%q],"reason":"Jane confirmed by letter that John Roe is her neighbour"}`, john)))
	if d.status != 200 || candidate(t, d.json(t), john, "state") != "excluded" {
		t.Fatalf("exclude: %d %s", d.status, d.body)
	}
	d = e.do(t, "POST", "/v1/subject-requests/"+byPhone["id"].(string)+"/orders", e.privacy,
		strings.NewReader(fmt.Sprintf(`{"include":[%q],"reason":"the caller named the order"}`, jane)))
	if d.status != 200 || strings.Join(ids(d.json(t)["orders"]), ",") != jane {
		t.Fatalf("include: %d %s", d.status, d.body)
	}
	audit := auditText(t, e.testEnv)
	for _, v := range []string{"neighbour", "the caller named", "john@example.dk", "jane@example.dk"} {
		if strings.Contains(audit, v) {
			t.Errorf("the audit trail holds %q", v)
		}
	}
	if !strings.Contains(audit, "subject.order_excluded "+john) || !strings.Contains(audit, "subject.order_included "+jane) {
		t.Error("the decisions are not in the audit trail")
	}
}

func TestEachRequestTypeAllowsOnlyItsActions(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	e.shared(t, a)
	for _, tc := range []struct {
		typ, action, body string
		allowed           string
	}{
		{"access", "erase", "", "export, complete"},
		{"access", "restrict", "", "export, complete"},
		{"access", "rectify", `{"customer":{"phone":"+4540404040"}}`, "export, complete"},
		{"access", "lift", `{"reason":"x","person_told_at":"2026-01-01T00:00:00Z"}`, "export, complete"},
		{"erasure", "export", "", "erase, complete"},
		{"erasure", "restrict", "", "erase, complete"},
		{"restriction", "erase", "", "restrict, lift, complete"},
	} {
		t.Run(tc.typ+"_refuses_"+tc.action, func(t *testing.T) {
			id := e.request(t, `{"type":"`+tc.typ+`","email":"jane@example.dk"}`)["id"].(string)
			method, body := "POST", io.Reader(nil)
			if tc.action == "export" {
				method = "GET"
			}
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := e.do(t, method, "/v1/subject-requests/"+id+"/"+tc.action, e.privacy, body)
			if r.status != 409 || !strings.Contains(string(r.body), "action_not_allowed") || !strings.Contains(string(r.body), tc.typ+" request") ||
				!strings.Contains(string(r.body), "allows "+tc.allowed) {
				t.Errorf("%s on %s: %d %s", tc.action, tc.typ, r.status, r.body)
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	for _, ev := range []string{"order.erased", "order.restricted", "order.updated"} {
		if e.carrierSink.bodyOf(a, ev) != nil {
			t.Errorf("a refused action sent %s", ev)
		}
	}
	obj := e.request(t, `{"type":"objection","email":"jane@example.dk"}`)["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+obj+"/rectify", e.privacy, strings.NewReader(`{"customer":{"phone":"+4540404040"}}`)); r.status != 409 ||
		!strings.Contains(string(r.body), "allows lift, erase, complete") {
		t.Errorf("rectify on an objection: %d %s", r.status, r.body)
	}
	if v := e.do(t, "GET", "/v1/admin/orders/"+a, e.admin, nil).json(t)["order"].(map[string]any); v["erased_at"] != nil ||
		v["customer"].(map[string]any)["phone"] != "+4533123456" {
		t.Errorf("a refused action changed the order: %v", v)
	}

	// The console offers an access request's actions only.
	access := e.request(t, `{"type":"access","email":"jane@example.dk"}`)["id"].(string)
	page := consoleGet(t, e.testEnv, e.privacy, "/console/privacy/requests/"+access)
	for _, form := range []string{"/erase", "/restrict", "/lift", "/rectify"} {
		if strings.Contains(page, `action="/console/privacy/requests/`+access+form+`"`) {
			t.Errorf("the console offers %s on an access request", form)
		}
	}
	if !strings.Contains(page, "/export") || !strings.Contains(page, "/complete") {
		t.Error("the console does not offer the access request's own actions")
	}
}

// consoleClient signs in to the console with key over plain HTTP and
// returns a client that carries the session.
func consoleClient(t *testing.T, e *testEnv, key string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(e.srv.URL + "/console/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no sign-in token: %s", b)
	}
	if res, err = c.PostForm(e.srv.URL+"/console/sign-in", url.Values{"csrf": {string(m[1])}, "key": {key}}); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("console sign-in: %d", res.StatusCode)
	}
	return c
}

// consoleGet signs in to the console with key and returns the page at path.
func consoleGet(t *testing.T, e *testEnv, key, path string) string {
	t.Helper()
	res, err := consoleClient(t, e, key).Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("console %s: %d %s", path, res.StatusCode, b)
	}
	return string(b)
}

func TestLiftingNeedsAReasonAndTheTellingAndNeverEndsARetainedErasure(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	cancelled := e.order(t, e.keyA, "PO-CANCELLED", "jane@example.dk", "+4533123456")
	e.shared(t, cancelled)
	e.do(t, "POST", "/v1/orders/"+cancelled+"/cancel", e.keyA, nil)
	obj := e.request(t, `{"type":"objection","email":"jane@example.dk"}`)
	id := obj["id"].(string)
	waitUntil(t, "the objection restricts", func() bool { return e.carrierSink.bodyOf(cancelled, "order.restricted") != nil })

	r := e.do(t, "POST", "/v1/subject-requests/"+id+"/lift", e.privacy, strings.NewReader(`{}`))
	if r.status != 422 || !strings.Contains(string(r.body), `"/reason"`) || !strings.Contains(string(r.body), `"/person_told_at"`) {
		t.Errorf("a lift without reason or telling: %d %s", r.status, r.body)
	}
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	r = e.do(t, "POST", "/v1/subject-requests/"+id+"/lift", e.privacy, strings.NewReader(`{"reason":"grounds","person_told_at":"`+future+`"}`))
	if r.status != 422 || !strings.Contains(string(r.body), "in_future") {
		t.Errorf("a lift told in the future: %d %s", r.status, r.body)
	}
	// The objection turns into an erasure; the cancelled order is kept
	// for bookkeeping, restricted, and no lift may end that.
	if r := e.do(t, "POST", "/v1/subject-requests/"+id+"/erase", e.privacy, nil); r.status != 200 || !strings.Contains(string(r.body), "bookkeeping") {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	told := time.Now().UTC().Format(time.RFC3339)
	r = e.do(t, "POST", "/v1/subject-requests/"+id+"/lift", e.privacy, strings.NewReader(`{"reason":"compelling grounds","person_told_at":"`+told+`"}`))
	if r.status != 409 || !strings.Contains(string(r.body), "restriction_retains_erasure") {
		t.Errorf("lifting a retained erasure: %d %s", r.status, r.body)
	}
	got := e.do(t, "GET", "/v1/subject-requests/"+id, e.privacy, nil).json(t)
	if candidate(t, got, cancelled, "restriction") != "retained_erasure" {
		t.Errorf("restriction %v", candidate(t, got, cancelled, "restriction"))
	}
	time.Sleep(300 * time.Millisecond)
	if e.carrierSink.bodyOf(cancelled, "order.restriction_lifted") != nil {
		t.Error("a retained erasure's restriction was lifted")
	}

	// A restriction lifted with its reason records when the person was told.
	a := e.order(t, e.keyA, "PO-A", "anna@example.dk", "+4522222222")
	e.shared(t, a)
	res := e.request(t, `{"type":"restriction","email":"anna@example.dk"}`)["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+res+"/lift", e.privacy, strings.NewReader(`{"reason":"r","person_told_at":"`+told+`"}`)); r.status != 409 {
		t.Errorf("lifting what was never restricted: %d %s", r.status, r.body)
	}
	e.do(t, "POST", "/v1/subject-requests/"+res+"/restrict", e.privacy, nil)
	if r := e.do(t, "POST", "/v1/subject-requests/"+res+"/lift", e.privacy,
		strings.NewReader(`{"reason":"the accuracy was verified","person_told_at":"`+told+`"}`)); r.status != 200 {
		t.Fatalf("lift: %d %s", r.status, r.body)
	}
	if audit := auditText(t, e.testEnv); !strings.Contains(audit, `"person_told_at":"`) || strings.Contains(audit, "accuracy was verified") {
		t.Error("the lift's telling is not audited, or its reason is")
	}
}

func TestDeadlinesFollowTheMonthRuleAndAgreeEverywhere(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	late := e.request(t, `{"type":"access","email":"jane@example.dk","received_at":"2026-01-31"}`)
	if late["due_date"] != "2026-02-28" || late["due_at"] != "2026-02-28T23:00:00Z" || late["overdue"] != true {
		t.Errorf("received 31 January: due %v %v, overdue %v", late["due_date"], late["due_at"], late["overdue"])
	}
	id := late["id"].(string)
	got := e.do(t, "GET", "/v1/subject-requests/"+id, e.privacy, nil).json(t)
	list := e.do(t, "GET", "/v1/subject-requests", e.privacy, nil).json(t)["data"].([]any)[0].(map[string]any)
	if got["overdue"] != late["overdue"] || list["overdue"] != late["overdue"] || got["due_at"] != late["due_at"] || list["due_date"] != late["due_date"] {
		t.Errorf("POST, GET and the list disagree: %v/%v, %v/%v, %v/%v", late["overdue"], late["due_at"], got["overdue"], got["due_at"],
			list["overdue"], list["due_date"])
	}
	if m := metricsBody(t, e.testEnv); !strings.Contains(m, `husky_subject_requests_open{overdue="true"} 1`) {
		t.Error("the metric disagrees")
	}
	if r := e.do(t, "POST", "/v1/subject-requests/"+id+"/extend", e.privacy, strings.NewReader(`{"reason":"archives"}`)); r.status != 409 ||
		!strings.Contains(string(r.body), "past_due") {
		t.Errorf("extending after the deadline: %d %s", r.status, r.body)
	}

	fresh := e.request(t, `{"type":"access","email":"jane@example.dk"}`)
	fid := fresh["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+fid+"/extend", e.privacy, strings.NewReader(`{}`)); r.status != 422 {
		t.Errorf("an extension without a reason: %d %s", r.status, r.body)
	}
	r := e.do(t, "POST", "/v1/subject-requests/"+fid+"/extend", e.privacy, strings.NewReader(`{"reason":"orders from the paper archive must be read"}`))
	if r.status != 200 {
		t.Fatalf("extend: %d %s", r.status, r.body)
	}
	ext := r.json(t)
	received, _ := time.Parse(time.RFC3339, fresh["received_at"].(string))
	cph, _ := time.LoadLocation("Europe/Copenhagen")
	if want := subjects.DueDate(subjects.Deadline(received, 3, cph), cph); ext["due_date"] != want {
		t.Errorf("extended due date %v, want %s", ext["due_date"], want)
	}
	x := ext["extension"].(map[string]any)
	if x["tell_person_by"] != fresh["due_date"] || x["reason"] != "orders from the paper archive must be read" {
		t.Errorf("extension %v: the person must be told by the first due date %v", x, fresh["due_date"])
	}
	if r := e.do(t, "POST", "/v1/subject-requests/"+fid+"/extend", e.privacy, strings.NewReader(`{"reason":"again"}`)); r.status != 409 ||
		!strings.Contains(string(r.body), "subject_request_extended") {
		t.Errorf("a second extension: %d %s", r.status, r.body)
	}
	if reply := e.do(t, "GET", "/v1/subject-requests/"+fid+"/reply", e.privacy, nil, "Accept", "text/html"); !strings.Contains(string(reply.body), "paper archive") {
		t.Errorf("the reply does not give the extension's reason: %.400s", reply.body)
	}
}

func TestARestrictionBindsToThePersonNotTheTypedIdentifiers(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	e.shared(t, a)
	req := e.request(t, `{"type":"restriction","email":"jane@example.dk"}`)
	id := req["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+id+"/restrict", e.privacy, nil); r.status != 200 {
		t.Fatalf("restrict: %d %s", r.status, r.body)
	}
	// Her phone, with a new email: held, and shown for review.
	n := e.order(t, e.keyB, "PO-N", "jane.new@example.dk", "+4533123456")
	// A rectification (another request) gives her order a new phone: an
	// order with that phone is held too.
	rect := e.request(t, `{"type":"rectification","email":"jane@example.dk"}`)["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+rect+"/rectify", e.privacy, strings.NewReader(`{"customer":{"phone":"+4540404040"}}`)); r.status != 200 {
		t.Fatalf("rectify: %d %s", r.status, r.body)
	}
	m := e.order(t, e.keyB, "PO-M", "jd@example.dk", "+4540404040")
	free := e.order(t, e.keyB, "PO-FREE", "someone@example.dk", "+4520202020")
	e.shared(t, free)
	for _, o := range []string{n, m} {
		if got := e.carrierSink.eventsFor(o); len(got) != 0 {
			t.Errorf("a restricted person's new order %s left the service: %v", o, got)
		}
	}
	got := e.do(t, "GET", "/v1/subject-requests/"+id, e.privacy, nil).json(t)
	if candidate(t, got, n, "restriction") != "new_order" || candidate(t, got, n, "state") != "needs_review" {
		t.Errorf("the new order is not shown for review: %v %v", candidate(t, got, n, "restriction"), candidate(t, got, n, "state"))
	}
	// Excluding it releases it.
	d := e.do(t, "POST", "/v1/subject-requests/"+id+"/orders", e.privacy, strings.NewReader(`{"exclude":["`+n+`"],"reason":"another Jane"}`))
	if d.status != 200 {
		t.Fatalf("exclude: %d %s", d.status, d.body)
	}
	waitUntil(t, "the excluded order flows", func() bool { return slices.Contains(e.carrierSink.eventsFor(n), "order.created") })
	// Including the other keeps it restricted, now as the person's.
	d = e.do(t, "POST", "/v1/subject-requests/"+id+"/orders", e.privacy, strings.NewReader(`{"include":["`+m+`"],"reason":"her new phone"}`))
	if d.status != 200 || candidate(t, d.json(t), m, "restriction") != "restriction" || candidate(t, d.json(t), m, "state") != "included" {
		t.Errorf("include: %d %s", d.status, d.body)
	}
	time.Sleep(300 * time.Millisecond)
	if got := e.carrierSink.eventsFor(m); len(got) != 0 {
		t.Errorf("an included held order left the service: %v", got)
	}
}

func TestErasureConfirmationsAnswerNoticesAndUnansweredOnesAreReminded(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	ctx := context.Background()
	live := e.order(t, e.keyA, "PO-LIVE", "anna@example.dk", "+4522222222")
	e.shared(t, live)
	if r := signedCallback(t, e.srv.URL, e.carrier.ID, e.carrierSecret, "early", "order.erasure_confirmed", map[string]any{"order_id": live}); r.status != 409 ||
		!strings.Contains(string(r.body), "no_erasure_notice") {
		t.Errorf("a confirmation before any notice: %d %s", r.status, r.body)
	}
	old := importOne(t, e.testEnv, `{"reference":"PO-OLD","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},`+
		`"ship_to":{"line1":"Vej 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2019-02-11T09:00:00Z","status":"delivered","closed_at":"2019-03-01T12:00:00Z","disclosed_to":[%q,%q]}`,
		e.resellerA.ID, e.carrier.ID, e.maker.ID)
	req := e.request(t, `{"type":"erasure","email":"jane@example.dk"}`)["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+req+"/erase", e.privacy, nil); r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	waitUntil(t, "both notified", func() bool {
		return e.carrierSink.bodyOf(old, "order.erased") != nil && e.makerSink.bodyOf(old, "order.erased") != nil
	})
	if r := signedCallback(t, e.srv.URL, e.carrier.ID, e.carrierSecret, "ack", "order.erasure_confirmed", map[string]any{"order_id": old}); r.status != 200 {
		t.Fatalf("the carrier's confirmation: %d %s", r.status, r.body)
	}
	got := e.do(t, "GET", "/v1/subject-requests/"+req, e.privacy, nil).json(t)
	ns := fmt.Sprint(candidate(t, got, old, "erasure_notices"))
	if !strings.Contains(ns, e.carrier.ID+" reminders:0 sent_at") && !strings.Contains(ns, "acknowledged_at") {
		t.Errorf("notices: %s", ns)
	}
	if strings.Count(ns, "acknowledged_at") != 1 {
		t.Errorf("the privacy view does not show who has not answered: %s", ns)
	}
	page := consoleGet(t, e.testEnv, e.privacy, "/console/privacy/requests/"+req)
	if !strings.Contains(page, "not answered") {
		t.Error("the console's request page does not show the unanswered notice")
	}

	// Reminders: the maker never answers; the carrier did.
	clock := &base.FakeClock{}
	e.app.Reminders.Clock = clock.Now
	if n, err := e.app.Reminders.Run(ctx); err != nil || n != 0 {
		t.Fatalf("reminders at once: %d %v", n, err)
	}
	clock.Advance(7*24*time.Hour + time.Minute)
	if n, err := e.app.Reminders.Run(ctx); err != nil || n != 1 {
		t.Fatalf("reminders after 7 days: %d %v", n, err)
	}
	waitUntil(t, "the reminder", func() bool { return strings.Count(strings.Join(e.makerSink.eventsFor(old), ","), "order.erased") == 2 })
	if b := string(e.makerSink.bodyOf(old, "order.erased")); strings.Contains(b, "reminder") {
		t.Errorf("the first notice names a reminder: %s", b)
	}
	if strings.Count(strings.Join(e.carrierSink.eventsFor(old), ","), "order.erased") != 1 {
		t.Error("a recipient that confirmed was reminded")
	}
	if n, _ := e.app.Reminders.Run(ctx); n != 0 {
		t.Errorf("a reminder sent twice: %d", n)
	}
	clock.Advance(23 * 24 * time.Hour)
	// A notice still on its way is not reminded: the first reminder's
	// delivery is recorded a moment after the maker received it.
	sent := 0
	waitUntil(t, "the 30-day reminder", func() bool {
		n, err := e.app.Reminders.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sent += n
		return sent > 0
	})
	if sent != 1 {
		t.Errorf("the 30-day reminder: %d", sent)
	}
	clock.Advance(60 * 24 * time.Hour)
	if n, _ := e.app.Reminders.Run(ctx); n != 0 {
		t.Errorf("reminders past the schedule: %d", n)
	}
	if m := metricsBody(t, e.testEnv); !strings.Contains(m, "husky_erasure_reminders_total 2") {
		t.Error("reminders are not counted")
	}
	// The default schedule is 7 and 30 days.
	if def := testConfig(t).ErasureReminders; fmt.Sprint(def) != "[168h0m0s 720h0m0s]" {
		t.Errorf("default reminders %v", def)
	}
}

func TestTheExportSaysWhatBecameOfEachDisclosure(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	ctx := context.Background()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", 503) }))
	t.Cleanup(down.Close)
	if _, _, err := e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindManufacturer, Name: "Down Maker",
		EndpointURL: down.URL, Fields: "email"}); err != nil {
		t.Fatal(err)
	}
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	waitUntil(t, "the delivery to the down maker dies", func() bool {
		ds, _, _ := e.app.Deliveries.List(ctx, deliveryFilterStatus("dead"))
		return len(ds) == 1
	})
	imported := importOne(t, e.testEnv, `{"reference":"PO-IMP","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},`+
		`"ship_to":{"line1":"Vej 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2024-02-11T09:00:00Z","status":"shipped","disclosed_to":[%q]}`, e.resellerA.ID, e.carrier.ID)
	id := e.request(t, `{"type":"access","email":"jane@example.dk"}`)["id"].(string)
	r := e.do(t, "GET", "/v1/subject-requests/"+id+"/export", e.privacy, nil)
	ex := r.json(t)
	states := map[string]string{}
	for _, o := range ex["orders"].([]any) {
		om := o.(map[string]any)
		for _, rc := range om["recipients"].([]any) {
			rm := rc.(map[string]any)
			for _, d := range rm["disclosures"].([]any) {
				dm := d.(map[string]any)
				states[om["order_id"].(string)+" "+rm["name"].(string)] = fmt.Sprint(dm["status"], " ", dm["last_http_status"], " ", dm["queued_at"])
			}
		}
	}
	if got := states[a+" Down Maker"]; !strings.HasPrefix(got, "failed 503 ") {
		t.Errorf("the failed disclosure says %q", got)
	}
	if got := states[imported+" Nordic Carrier"]; got != "delivered <nil> 2024-02-11T09:00:00Z" {
		t.Errorf("the imported disclosure says %q, want its own date", got)
	}
	html := string(e.do(t, "GET", "/v1/subject-requests/"+id+"/export", e.privacy, nil, "Accept", "text/html").body)
	if !strings.Contains(html, "sending failed (the recipient answered 503)") {
		t.Errorf("the printable export does not say the delivery failed: %s", html)
	}
}

func TestTheReplyToThePersonSaysWhatWasDoneAndWhyNot(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	jane, john := e.householdOrders(t)
	e.do(t, "POST", "/v1/orders/"+jane+"/cancel", e.keyA, nil)
	id := e.request(t, `{"type":"erasure","email":"jane@example.dk","phone":"+4533123456"}`)["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+id+"/erase", e.privacy, nil); r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	r := e.do(t, "GET", "/v1/subject-requests/"+id+"/reply", e.privacy, nil)
	if r.status != 200 {
		t.Fatalf("reply: %d %s", r.status, r.body)
	}
	body := string(r.body)
	for _, want := range []string{jane, "Bookkeeping Act", "not shared with anyone", "Datatilsynet", "Art. 77", "Art. 79"} {
		if !strings.Contains(body, want) {
			t.Errorf("the reply lacks %q: %s", want, body)
		}
	}
	if strings.Contains(body, john) {
		t.Error("the reply names an order that may be another person's")
	}
	html := e.do(t, "GET", "/v1/subject-requests/"+id+"/reply", e.privacy, nil, "Accept", "text/html")
	if !strings.Contains(string(html.body), "<main>") || !strings.Contains(html.header.Get("Content-Security-Policy"), "default-src 'none'") ||
		!strings.Contains(string(html.body), "Bookkeeping Act") {
		t.Errorf("html reply: %s %.300s", html.header.Get("Content-Security-Policy"), html.body)
	}
}

func TestAPersonWithManyOrdersIsReadAPageAtATime(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	var lines []string
	for i := range 150 {
		lines = append(lines, fmt.Sprintf(`{"reference":"PO-MANY-%d","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},`+
			`"ship_to":{"line1":"Vej 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
			`"reseller_id":%q,"created_at":"2025-02-11T09:00:00Z","status":"received"}`, i, e.resellerA.ID))
	}
	if rep, err := e.app.Orders.Import(context.Background(), "test", []byte(strings.Join(lines, "\n")+"\n"), false); err != nil || rep.Imported != 150 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	req := e.request(t, `{"type":"access","email":"jane@example.dk"}`)
	id := req["id"].(string)
	if len(req["candidates"].([]any)) != 100 || req["has_more"] != true || fmt.Sprint(req["totals"]) != "map[candidates:150 included:150]" {
		t.Errorf("the request's first page: %d candidates, has_more %v, totals %v", len(req["candidates"].([]any)), req["has_more"], req["totals"])
	}
	next := e.do(t, "GET", "/v1/subject-requests/"+id+"?cursor="+req["next_cursor"].(string), e.privacy, nil).json(t)
	if len(next["candidates"].([]any)) != 50 || next["has_more"] != false {
		t.Errorf("the second page: %d, has_more %v", len(next["candidates"].([]any)), next["has_more"])
	}
	before := strings.Count(auditText(t, e.testEnv), "\n")
	ex := e.do(t, "GET", "/v1/subject-requests/"+id+"/export", e.privacy, nil).json(t)
	if len(ex["orders"].([]any)) != 100 || ex["has_more"] != true || ex["total"] != float64(150) {
		t.Fatalf("the export's first page: %d orders, has_more %v, total %v", len(ex["orders"].([]any)), ex["has_more"], ex["total"])
	}
	// One audit entry for the page, not one per order.
	if added := strings.Count(auditText(t, e.testEnv), "\n") - before; added != 1 {
		t.Errorf("one export page added %d audit entries", added)
	}
	rest := e.do(t, "GET", "/v1/subject-requests/"+id+"/export?cursor="+ex["next_cursor"].(string), e.privacy, nil).json(t)
	if len(rest["orders"].([]any)) != 50 || rest["has_more"] != false {
		t.Errorf("the export's second page: %d orders, has_more %v", len(rest["orders"].([]any)), rest["has_more"])
	}
	page := consoleGet(t, e.testEnv, e.privacy, "/console/privacy/requests/"+id)
	if strings.Count(page, "<tr") > 110 || !strings.Contains(page, "150 candidate orders") || !strings.Contains(page, "?cursor=") {
		t.Errorf("the console's request page is not paged (%d rows)", strings.Count(page, "<tr"))
	}
}

func TestAnObjectionRestrictsTheOrdersTheDPOIncludesLater(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	jane, john := e.householdOrders(t)
	// A phone alone: both orders need review, so nothing is restricted yet.
	id := e.request(t, `{"type":"objection","phone":"+4533123456"}`)["id"].(string)
	time.Sleep(300 * time.Millisecond)
	if e.carrierSink.bodyOf(jane, "order.restricted") != nil || e.carrierSink.bodyOf(john, "order.restricted") != nil {
		t.Fatal("an order that needs review was restricted")
	}
	d := e.do(t, "POST", "/v1/subject-requests/"+id+"/orders", e.privacy, strings.NewReader(`{"include":["`+jane+`"],"reason":"confirmed"}`))
	if d.status != 200 {
		t.Fatalf("include: %d %s", d.status, d.body)
	}
	waitUntil(t, "the included order is restricted", func() bool { return e.carrierSink.bodyOf(jane, "order.restricted") != nil })
	if e.carrierSink.bodyOf(john, "order.restricted") != nil {
		t.Error("the order left for review was restricted")
	}
}
