package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// breachFigures picks an impact's figures as "orders persons contactable
// erased still_held | field:n ... | country:n ...".
func breachFigures(t *testing.T, b map[string]any) string {
	t.Helper()
	im, ok := b["impact"].(map[string]any)
	if !ok {
		t.Fatalf("no impact: %v", b)
	}
	out := fmt.Sprintf("%v %v %v %v %v |", im["orders"], im["persons"], im["persons_contactable"], im["erased_orders"], im["still_held"])
	for _, f := range im["fields"].([]any) {
		m := f.(map[string]any)
		out += fmt.Sprintf(" %v:%v", m["field"], m["orders"])
	}
	out += " |"
	for _, c := range im["countries"].([]any) {
		m := c.(map[string]any)
		out += fmt.Sprintf(" %v:%v", m["country"], m["orders"])
	}
	return out
}

func (e *subjectEnv) openBreach(t *testing.T, body string) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/v1/breaches", e.privacy, strings.NewReader(body))
	if r.status != 201 {
		t.Fatalf("open breach: %d %s", r.status, r.body)
	}
	return r.json(t)
}

// The register answers whose data, which fields, held by whom during a
// breach's window, from the disclosures and the acknowledged erasures; it
// tracks the 72 hours and writes the letters, and keeps no personal data.
func TestBreachRegisterCountsWhatEachRecipientHeld(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	// Carl's order was taken in 2019 by an earlier system, which sent it
	// to the carrier (fields unknown); it is past its retention.
	old := importOne(t, e.testEnv, `{"reference":"PO-OLD","customer":{"name":"Carl Old","email":"carl@example.se","phone":"+46701234567"},`+
		`"ship_to":{"line1":"Gata 1","city":"Malmö","postal_code":"21100","country":"SE"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2019-02-11T09:00:00Z","status":"delivered","closed_at":"2019-03-01T12:00:00Z","disclosed_to":[%q]}`,
		e.resellerA.ID, e.carrier.ID)
	jane1 := e.order(t, e.keyA, "PO-J1", "jane@example.dk", "+4533123456")
	jane2 := e.order(t, e.keyB, "PO-J2", "Jane@Example.dk", "+4533123456")
	bob := e.submit(t, e.keyA, sampleOrder(t, withRef("PO-BOB"), func(m map[string]any) {
		m["customer"] = map[string]any{"name": "Bob Berg", "email": "bob@example.no", "phone": "+4791234567"}
		m["ship_to"].(map[string]any)["country"] = "NO"
	}))["id"].(string)
	e.shared(t, jane1, jane2, bob)

	// Carl asks for erasure; the carrier confirms it has erased his order.
	req := e.request(t, `{"type":"erasure","email":"carl@example.se"}`)
	if r := e.do(t, "POST", "/v1/subject-requests/"+req["id"].(string)+"/erase", e.privacy, nil); r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	waitUntil(t, "erasure notice", func() bool { return e.carrierSink.bodyOf(old, "order.erased") != nil })
	if cb := signedCallback(t, e.srv.URL, e.carrier.ID, e.carrierSecret, "erased-"+old, "order.erasure_confirmed",
		map[string]any{"order_id": old}); cb.status != 200 {
		t.Fatalf("erasure confirmed: %d %s", cb.status, cb.body)
	}
	time.Sleep(1100 * time.Millisecond)
	afterAck := time.Now().UTC().Format(time.RFC3339)
	fourDaysAgo := time.Now().Add(-96 * time.Hour).UTC().Format(time.RFC3339)

	// At the carrier since 2019: Carl's order too (erased since the window
	// began: no longer held, and his person can no longer be traced), with
	// fields unknown; Jane's two orders are one person.
	atCarrier := e.openBreach(t, fmt.Sprintf(`{"where":[%q],"from":"2019-01-01T00:00:00Z","aware_at":%q,
		"description":"The carrier's label printer share was readable by anyone on its network.",
		"likely_consequences":"Phishing by email or phone.","measures_taken":"The carrier closed the share and rotated credentials."}`,
		e.carrier.ID, fourDaysAgo))
	if got, want := breachFigures(t, atCarrier), "4 3 2 1 3 | phone:3 address:3 unknown:1 | DK:2 NO:1 unknown:1"; got != want {
		t.Errorf("at the carrier since 2019:\n got %s\nwant %s", got, want)
	}
	if atCarrier["overdue"] != true || atCarrier["scope"] != "recipients" {
		t.Errorf("a breach known four days and not notified: %v", atCarrier)
	}
	// At both since the acknowledgement: the carrier no longer held Carl's
	// order; the maker never had it. Each recipient's fields add up.
	atBoth := e.openBreach(t, fmt.Sprintf(`{"where":[%q,%q],"from":%q,"aware_at":%q,"description":"Shared credentials leaked."}`,
		e.maker.ID, e.carrier.ID, afterAck, afterAck))
	if got, want := breachFigures(t, atBoth), "3 2 2 0 3 | email:3 phone:3 address:3 | DK:2 NO:1"; got != want {
		t.Errorf("at both recipients:\n got %s\nwant %s", got, want)
	}
	if rs := atBoth["impact"].(map[string]any)["recipients"].([]any); len(rs) != 2 {
		t.Errorf("per recipient: %v", rs)
	}
	// Here, since the acknowledgement: Carl's order was erased before.
	here := e.openBreach(t, fmt.Sprintf(`{"where":["service"],"from":%q,"aware_at":%q,"description":"A database backup was exposed."}`,
		afterAck, afterAck))
	if got, want := breachFigures(t, here), "3 2 2 0 3 | email:3 phone:3 address:3 name:3 notes:3 | DK:2 NO:1"; got != want {
		t.Errorf("here:\n got %s\nwant %s", got, want)
	}

	// Bad input: every bad field named, nothing stored.
	r := e.do(t, "POST", "/v1/breaches", e.privacy, strings.NewReader(`{"where":["service","ptn_x"],"from":"yesterday","to":"2019-01-01T00:00:00Z","aware_at":"2999-01-01T00:00:00Z","description":""}`))
	body := string(r.body)
	for _, ptr := range []string{`"/where"`, `"/from"`, `"/aware_at"`, `"/description"`} {
		if r.status != 422 || !strings.Contains(body, ptr) {
			t.Errorf("bad breach: %d, no %s in %s", r.status, ptr, body)
		}
	}
	if r := e.do(t, "POST", "/v1/breaches", e.privacy, strings.NewReader(`{"where":[`+fmt.Sprintf("%q", e.resellerA.ID)+`],"from":"2026-01-01T00:00:00Z","aware_at":"2026-01-02T00:00:00Z","description":"x"}`)); r.status != 422 || !strings.Contains(string(r.body), `"/where/0"`) {
		t.Errorf("a reseller as where: %d %s", r.status, r.body)
	}
	list := e.do(t, "GET", "/v1/breaches", e.privacy, nil).json(t)["data"].([]any)
	if len(list) != 3 {
		t.Errorf("register holds %d breaches, want 3", len(list))
	}
	for _, key := range []string{e.keyA, e.admin, e.finance} {
		if r := e.do(t, "GET", "/v1/breaches", key, nil); r.status != 403 {
			t.Errorf("a non-privacy key read the register: %d", r.status)
		}
	}
	if m := e.do(t, "GET", "/metrics", "", nil); !strings.Contains(string(m.body), `husky_breaches_awaiting_notification{overdue="true"} 1`) {
		t.Errorf("metrics: %s", grepLines(string(m.body), "husky_breaches"))
	}

	// Notified after 72 hours: the reason is required (Art. 33(1)), once.
	id := atCarrier["id"].(string)
	if r := e.do(t, "POST", "/v1/breaches/"+id+"/notified", e.privacy, strings.NewReader(`{}`)); r.status != 422 || !strings.Contains(string(r.body), `"/late_reason"`) {
		t.Errorf("late without a reason: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/breaches/"+id+"/notified", e.privacy, strings.NewReader(`{"late_reason":"The carrier told us three days after it found the share."}`)); r.status != 200 || r.json(t)["late"] != true || r.json(t)["overdue"] != false {
		t.Errorf("notified late: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/breaches/"+id+"/notified", e.privacy, strings.NewReader(`{"late_reason":"again"}`)); r.status != 409 {
		t.Errorf("notified twice: %d", r.status)
	}

	// The Art. 33(3) document, as JSON and as a page.
	doc := e.do(t, "GET", "/v1/breaches/"+id+"/notification", e.privacy, nil).json(t)
	if doc["approximate_persons"] != float64(3) || doc["approximate_records"] != float64(4) || doc["contact_point"] != testDPOContact ||
		!strings.Contains(fmt.Sprint(doc["where"]), "Nordic Carrier") {
		t.Errorf("notification document: %v", doc)
	}
	page := e.do(t, "GET", "/v1/breaches/"+id+"/notification?format=html", e.privacy, nil)
	if !strings.Contains(string(page.body), "Persons concerned (approximately)</th><td>3</td>") ||
		!strings.Contains(page.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("notification page: %s", page.body)
	}

	// Letters only once the risk to persons is decided high; one per
	// person, to their own contact data, a page at a time.
	if r := e.do(t, "GET", "/v1/breaches/"+id+"/notices", e.privacy, nil); r.status != 409 {
		t.Errorf("letters before the risk decision: %d", r.status)
	}
	if r := e.do(t, "POST", "/v1/breaches/"+id+"/risk", e.privacy, strings.NewReader(`{"high":true,"reason":"Phone and address together allow targeted fraud."}`)); r.status != 422 || !strings.Contains(string(r.body), `"/advice"`) {
		t.Errorf("high risk without advice: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/v1/breaches/"+id+"/risk", e.privacy, strings.NewReader(`{"high":true,"reason":"Phone and address together allow targeted fraud.","advice":"Be wary of calls about a delivery."}`)); r.status != 200 {
		t.Fatalf("risk: %d %s", r.status, r.body)
	}
	first := e.do(t, "GET", "/v1/breaches/"+id+"/notices?limit=1", e.privacy, nil).json(t)
	letters := first["letters"].([]any)
	if len(letters) != 1 || first["persons"] != float64(2) || first["not_contactable_orders"] != float64(1) || first["has_more"] != true {
		t.Fatalf("first page of letters: %v", first)
	}
	second := e.do(t, "GET", "/v1/breaches/"+id+"/notices?limit=1&cursor="+first["next_cursor"].(string), e.privacy, nil).json(t)
	letters = append(letters, second["letters"].([]any)...)
	byEmail := map[string]map[string]any{}
	for _, l := range letters {
		m := l.(map[string]any)
		byEmail[strings.ToLower(m["to"].(map[string]any)["email"].(string))] = m
	}
	jane, bobs := byEmail["jane@example.dk"], byEmail["bob@example.no"]
	if jane == nil || bobs == nil || second["has_more"] != false {
		t.Fatalf("letters: %v", byEmail)
	}
	if fmt.Sprint(jane["orders"]) != fmt.Sprint([]any{jane1, jane2}) || fmt.Sprint(jane["fields"]) != "[phone address]" ||
		!strings.Contains(jane["text"].(string), "Be wary of calls about a delivery.") || strings.Contains(jane["text"].(string), "Bob") {
		t.Errorf("Jane's letter: %v", jane)
	}

	// The trail has every step, a letter per person, and no personal data.
	trail := auditText(t, e.testEnv)
	for _, action := range []string{"breach.recorded", "breach.impact_computed", "breach.authority_notified", "breach.risk_decided", "breach.letter_written"} {
		if !strings.Contains(trail, action) {
			t.Errorf("no %s in the audit trail", action)
		}
	}
	if n := strings.Count(trail, "breach.letter_written"); n != 2 {
		t.Errorf("%d letters audited, want 2", n)
	}
	for _, pd := range []string{"jane@", "bob@", "carl@", "Jane", "Bob Berg", "+4533123456", "Gata 1", "label printer"} {
		if strings.Contains(trail, pd) {
			t.Errorf("the audit trail holds %q", pd)
		}
	}
}

// The register from the command line: open, list, show as the
// authority's notification, notified.
func TestBreachesCLI(t *testing.T) {
	t.Parallel()
	env := append(dbEnv(t, t.TempDir()+"/husky.db"), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true")
	carrier := husky(t, env, "partners", "add", "--kind", "logistics", "--name", "Carrier", "--endpoint", "http://127.0.0.1:9/h")["partner"].(map[string]any)
	aware := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	b := husky(t, env, "breaches", "open", "--where", carrier["id"].(string), "--from", "2026-01-01T00:00:00Z", "--aware-at", aware,
		"--description", "A stolen laptop at the carrier.")
	id, _ := b["id"].(string)
	if !strings.HasPrefix(id, "brc_") || b["impact"].(map[string]any)["orders"] != float64(0) || b["overdue"] != false {
		t.Fatalf("open: %v", b)
	}
	if code, _, stderr := runExit(t, env, "breaches", "open", "--where", "ptn_nope", "--from", "2026-01-01T00:00:00Z", "--aware-at", aware,
		"--description", "x"); code != 1 || !strings.Contains(stderr, "husky:") {
		t.Errorf("an unknown recipient: exit %d %s", code, stderr)
	}
	if code, out, _ := runExit(t, env, "breaches", "list"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "no") {
		t.Errorf("list: %d %s", code, out)
	}
	if code, out, _ := runExit(t, env, "breaches", "show", id, "--recompute", "--format", "html"); code != 0 ||
		!strings.Contains(out, "Notification of a personal data breach") || !strings.Contains(out, "dpo@example.com") {
		t.Errorf("show --format html: %d %.300s", code, out)
	}
	if n := husky(t, env, "breaches", "notified", id); n["notified_at"] == nil || n["late"] != false {
		t.Errorf("notified: %v", n)
	}
}
