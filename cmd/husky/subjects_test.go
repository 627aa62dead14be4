package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
)

// subjectEnv is a testEnv with a carrier that may receive phone and
// address, a maker that may receive email only, and a running dispatcher.
type subjectEnv struct {
	*testEnv
	carrier, maker         partners.Partner
	carrierSecret          string
	carrierSink, makerSink *hookSink
}

func newSubjectEnv(t *testing.T) *subjectEnv {
	t.Helper()
	e := &subjectEnv{testEnv: newTestEnv(t), carrierSink: newHookSink(t), makerSink: newHookSink(t)}
	ctx := context.Background()
	var err error
	if e.carrier, e.carrierSecret, err = e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindLogistics, Name: "Nordic Carrier",
		EndpointURL: e.carrierSink.srv.URL, Fields: "phone,address", Country: "NO"}); err != nil {
		t.Fatal(err)
	}
	if e.maker, _, err = e.app.Partners.Add(ctx, "test", partners.NewPartner{Kind: partners.KindManufacturer, Name: "Maker Inc",
		EndpointURL: e.makerSink.srv.URL, Fields: "email", Country: "US", TransferBasis: "scc"}); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { e.app.Dispatcher.Run(dctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// events returns the types and bodies a sink received for an order.
func (s *hookSink) eventsFor(orderID string) []string {
	var out []string
	for i := range s.count() {
		_, b := s.at(i)
		if bytes.Contains(b, []byte(orderID)) {
			var ev struct{ Type string }
			json.Unmarshal(b, &ev)
			out = append(out, ev.Type)
		}
	}
	return out
}

func (s *hookSink) bodyOf(orderID, event string) []byte {
	for i := range s.count() {
		_, b := s.at(i)
		if bytes.Contains(b, []byte(orderID)) && bytes.Contains(b, []byte(`"type":"`+event+`"`)) {
			return b
		}
	}
	return nil
}

func (e *subjectEnv) order(t *testing.T, key, ref, email, phone string) string {
	t.Helper()
	return e.submit(t, key, sampleOrder(t, withRef(ref), func(m map[string]any) {
		c := m["customer"].(map[string]any)
		c["email"], c["phone"] = email, phone
	}))["id"].(string)
}

func (e *subjectEnv) shared(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		waitUntil(t, "shared", func() bool {
			return e.do(t, "GET", "/v1/admin/orders/"+id, e.admin, nil).json(t)["order"].(map[string]any)["status"] == "shared"
		})
	}
}

func (e *subjectEnv) request(t *testing.T, body string) map[string]any {
	t.Helper()
	r := e.do(t, "POST", "/v1/subject-requests", e.privacy, strings.NewReader(body))
	if r.status != 201 {
		t.Fatalf("open request: %d %s", r.status, r.body)
	}
	return r.json(t)
}

func ids(orders any) []string {
	var out []string
	for _, o := range orders.([]any) {
		out = append(out, o.(map[string]any)["order_id"].(string))
	}
	return out
}

func TestSubjectRequestsFindThePersonAcrossResellersAndOnlyPrivacyKeysUseThem(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	b := e.order(t, e.keyB, "PO-B", "Jane@Example.DK", "33 12 34 56") // same person, other reseller, other spelling
	c := e.order(t, e.keyA, "PO-C", "other@example.dk", "+4533123456")
	e.order(t, e.keyA, "PO-D", "someone@example.dk", "+4522222222")
	for _, key := range []string{e.keyA, e.admin, e.finance} {
		if r := e.do(t, "GET", "/v1/subject-requests", key, nil); r.status != 403 {
			t.Errorf("a %s key listed subject requests: %d", key[:12], r.status)
		}
	}
	byEmail := e.request(t, `{"type":"access","email":"JANE@example.dk"}`)
	if got := ids(byEmail["orders"]); strings.Join(got, ",") != a+","+b {
		t.Errorf("by email: %v, want %s and %s", got, a, b)
	}
	both := e.request(t, `{"type":"access","email":"jane@example.dk","phone":"+45 33 12 34 56","received_at":"2026-09-01T10:00:00Z"}`)
	// The order with Jane's phone and another email is a candidate, not
	// hers until the DPO says so.
	if got := ids(both["candidates"]); strings.Join(got, ",") != a+","+b+","+c {
		t.Errorf("candidates by email and phone: %v", got)
	}
	if got := ids(both["orders"]); strings.Join(got, ",") != a+","+b {
		t.Errorf("included by email and phone: %v", got)
	}
	if !strings.HasPrefix(both["id"].(string), "dsr_") || both["due_at"] != "2026-10-01T22:00:00Z" || both["due_date"] != "2026-10-01" ||
		both["status"] != "open" || both["overdue"] != true {
		t.Errorf("request: %v", both)
	}
	list := e.do(t, "GET", "/v1/subject-requests?status=open", e.privacy, nil).json(t)["data"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != both["id"] || list[0].(map[string]any)["overdue"] != true {
		t.Errorf("queue, oldest due first, overdue marked: %v", list)
	}
	if m := metricsBody(t, e.testEnv); !strings.Contains(m, `husky_subject_requests_open{overdue="true"} 1`) {
		t.Errorf("metrics:\n%s", m)
	}
	bad := e.do(t, "POST", "/v1/subject-requests", e.privacy, strings.NewReader(`{"type":"gossip","email":"not-an-email","phone":"12"}`))
	if bad.status != 422 || strings.Count(string(bad.body), `"pointer"`) != 3 {
		t.Errorf("bad request: %d %s", bad.status, bad.body)
	}
	done := e.do(t, "POST", "/v1/subject-requests/"+byEmail["id"].(string)+"/complete", e.privacy, nil)
	if done.status != 200 || done.json(t)["status"] != "completed" {
		t.Errorf("complete: %d %s", done.status, done.body)
	}
	// The audit trail names the request and the orders, never the person.
	raw := auditText(t, e.testEnv)
	for _, v := range []string{"jane@example.dk", "33123456", "Jane"} {
		if strings.Contains(raw, v) {
			t.Errorf("the audit trail holds %q", v)
		}
	}
	if !strings.Contains(raw, byEmail["id"].(string)) || !strings.Contains(raw, "subject.order_found") {
		t.Error("the audit trail does not record the request's steps")
	}
}

// auditText returns every audit entry as text.
func auditText(t *testing.T, e *testEnv) string {
	t.Helper()
	if _, err := e.app.Audit.IntegrateAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rows []string
	if err := e.app.DB.Reader.Select(&rows, `SELECT actor || ' ' || action || ' ' || COALESCE(order_id, '') || ' ' ||
		COALESCE(request_id, '') || ' ' || details FROM audit_entries ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	return strings.Join(rows, "\n")
}

func TestAccessExportNamesWhatIsHeldAndWhoReceivedWhatWhen(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	e.shared(t, a)
	req := e.request(t, `{"type":"access","email":"jane@example.dk"}`)
	r := e.do(t, "GET", "/v1/subject-requests/"+req["id"].(string)+"/export", e.privacy, nil)
	if r.status != 200 {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
	var ex struct {
		Orders []struct {
			OrderID    string `json:"order_id"`
			Source     struct{ Name string }
			LegalBasis string `json:"legal_basis"`
			Data       struct {
				Customer struct{ Name, Email, Phone string }
				Notes    string
			}
			Recipients []struct {
				Name        string
				Country     string
				Safeguard   string `json:"transfer_safeguard"`
				Disclosures []struct {
					Fields      []string
					DeliveredAt *time.Time `json:"delivered_at"`
				}
			}
			Erasure struct{ Rule string }
		}
		Rights      []string
		Portability string
	}
	if err := json.Unmarshal(r.body, &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex.Orders) != 1 {
		t.Fatalf("export: %s", r.body)
	}
	o := ex.Orders[0]
	if o.Source.Name != "Reseller A" || o.Data.Customer.Name != "Jane Doe" || o.Data.Customer.Email != "jane@example.dk" ||
		!strings.Contains(o.LegalBasis, "6(1)(f)") || !strings.Contains(o.Erasure.Rule, "fiscal year") {
		t.Errorf("order: %+v", o)
	}
	got := map[string]string{}
	for _, rc := range o.Recipients {
		if len(rc.Disclosures) != 1 || rc.Disclosures[0].DeliveredAt == nil {
			t.Errorf("recipient %s: %+v", rc.Name, rc)
			continue
		}
		got[rc.Name] = rc.Country + " " + rc.Safeguard + " " + strings.Join(rc.Disclosures[0].Fields, ",")
	}
	if got["Nordic Carrier"] != "NO within the EEA, no transfer phone,address" ||
		got["Maker Inc"] != "US standard contractual clauses (GDPR Art. 46(2)(c)) email" {
		t.Errorf("recipients from the disclosure records: %v", got)
	}
	if !strings.Contains(strings.Join(ex.Rights, " "), "Datatilsynet") || !strings.Contains(ex.Portability, "Art. 20") {
		t.Errorf("rights: %v %s", ex.Rights, ex.Portability)
	}
	html := e.do(t, "GET", "/v1/subject-requests/"+req["id"].(string)+"/export", e.privacy, nil, "Accept", "text/html")
	if html.status != 200 || !strings.Contains(html.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(html.body), "Nordic Carrier") || !strings.Contains(string(html.body), "jane@example.dk") {
		t.Errorf("html export: %d %.300s", html.status, html.body)
	}
	audit := auditText(t, e.testEnv)
	if !strings.Contains(audit, "subject.export_viewed") || !strings.Contains(audit, `"first_order_id":"`+a+`"`) {
		t.Error("reading the order's data for the export is not in the audit trail")
	}
	// Each disclosure's entry records where the data went and on what safeguard.
	if !strings.Contains(audit, `"country":"US"`) || !strings.Contains(audit, `"transfer_basis":"scc"`) {
		t.Error("disclosure entries lack the recipient's country and safeguard")
	}
}

func TestRectificationTellsEachRecipientOnlyWhatItMayKnow(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	e.shared(t, a)
	req := e.request(t, `{"type":"rectification","email":"jane@example.dk"}`)
	id := req["id"].(string)
	bad := e.do(t, "POST", "/v1/subject-requests/"+id+"/rectify", e.privacy,
		strings.NewReader(`{"customer":{"phone":"12","email":"nope"},"ship_to":{"line1":""},"extra":1}`))
	if bad.status != 422 || strings.Count(string(bad.body), `"pointer"`) < 5 {
		t.Errorf("a bad rectification is refused with every problem: %d %s", bad.status, bad.body)
	}
	r := e.do(t, "POST", "/v1/subject-requests/"+id+"/rectify", e.privacy,
		strings.NewReader(`{"customer":{"phone":"+45 40 40 40 40","name":"Jane Doe-Hansen"}}`))
	if r.status != 200 || !strings.Contains(string(r.body), `"changed":["name","phone"]`) {
		t.Fatalf("rectify: %d %s", r.status, r.body)
	}
	// The carrier received the phone and gets its new value, nothing else;
	// the maker never received the phone and gets nothing.
	waitUntil(t, "order.updated to the carrier", func() bool { return e.carrierSink.bodyOf(a, "order.updated") != nil })
	body := string(e.carrierSink.bodyOf(a, "order.updated"))
	if !strings.Contains(body, `"contact":{"phone":"+4540404040"}`) || strings.Contains(body, "Hansen") || strings.Contains(body, "address") {
		t.Errorf("order.updated to the carrier: %s", body)
	}
	time.Sleep(200 * time.Millisecond)
	if e.makerSink.bodyOf(a, "order.updated") != nil {
		t.Error("the maker, whose allow-list holds none of the changed fields, was told")
	}
	view := e.do(t, "GET", "/v1/admin/orders/"+a, e.admin, nil).json(t)["order"].(map[string]any)["customer"].(map[string]any)
	if view["phone"] != "+4540404040" || view["name"] != "Jane Doe-Hansen" {
		t.Errorf("stored: %v", view)
	}
	// The new phone finds the order; the old one no longer does.
	if got := ids(e.request(t, `{"type":"access","phone":"+4540404040"}`)["orders"]); len(got) != 1 {
		t.Errorf("new phone finds %v", got)
	}
	if got := e.request(t, `{"type":"access","phone":"+4533123456"}`)["orders"].([]any); len(got) != 0 {
		t.Errorf("old phone still finds %v", got)
	}
}

func TestRestrictionHoldsPersonalDeliveriesAndTellsRecipients(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	e.shared(t, a)
	req := e.request(t, `{"type":"restriction","email":"jane@example.dk"}`)
	id := req["id"].(string)
	if r := e.do(t, "POST", "/v1/subject-requests/"+id+"/restrict", e.privacy, nil); r.status != 200 {
		t.Fatalf("restrict: %d %s", r.status, r.body)
	}
	waitUntil(t, "order.restricted to both", func() bool {
		return e.carrierSink.bodyOf(a, "order.restricted") != nil && e.makerSink.bodyOf(a, "order.restricted") != nil
	})
	// A new order from the same person is restricted too: queued, held.
	n := e.order(t, e.keyB, "PO-N", "JANE@example.dk", "+4599999999")
	time.Sleep(500 * time.Millisecond)
	if got := e.carrierSink.eventsFor(n); len(got) != 0 {
		t.Fatalf("a restricted person's new order left the service: %v", got)
	}
	ds, _, _ := e.app.Deliveries.List(context.Background(), deliveryFilter(n))
	for _, d := range ds {
		if d.Status != "pending" || d.Attempts != 0 {
			t.Errorf("held delivery %+v: want pending with no attempt", d)
		}
	}
	// The reseller cancels the held order: the cancel does not overtake
	// the order.created it cancels.
	if r := e.do(t, "POST", "/v1/orders/"+n+"/cancel", e.keyB, nil); r.status != 200 {
		t.Fatalf("cancel: %d", r.status)
	}
	time.Sleep(300 * time.Millisecond)
	if got := e.carrierSink.eventsFor(n); len(got) != 0 {
		t.Errorf("an order.cancelled overtook the held order.created: %v", got)
	}
	lift := fmt.Sprintf(`{"reason":"the accuracy was verified","person_told_at":%q}`, time.Now().UTC().Format(time.RFC3339))
	if r := e.do(t, "POST", "/v1/subject-requests/"+id+"/lift", e.privacy, strings.NewReader(lift)); r.status != 200 {
		t.Fatalf("lift: %d %s", r.status, r.body)
	}
	waitUntil(t, "held deliveries flow and the lift is told", func() bool {
		return strings.Join(e.carrierSink.eventsFor(n), ",") == "order.created,order.cancelled" &&
			e.carrierSink.bodyOf(a, "order.restriction_lifted") != nil
	})
	steps := e.do(t, "GET", "/v1/subject-requests/"+id, e.privacy, nil).json(t)["steps"].([]any)
	var actions []string
	for _, s := range steps {
		actions = append(actions, s.(map[string]any)["action"].(string))
	}
	if strings.Join(actions, ",") != "opened,restricted,lifted" {
		t.Errorf("steps %v", actions)
	}
}

func TestObjectionRestrictsAtOnce(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	a := e.order(t, e.keyA, "PO-A", "jane@example.dk", "+4533123456")
	e.shared(t, a)
	e.request(t, `{"type":"objection","email":"jane@example.dk"}`)
	waitUntil(t, "order.restricted", func() bool { return e.carrierSink.bodyOf(a, "order.restricted") != nil })
}

func TestErasureRequestErasesRetainsOrSchedulesEachOrder(t *testing.T) {
	t.Parallel()
	e := newSubjectEnv(t)
	ctx := context.Background()
	// Closed in 2019: past its purge date (end of 2024), so erased at once.
	old := importOne(t, e.testEnv, `{"reference":"PO-OLD","customer":{"name":"Jane Doe","email":"jane@example.dk","phone":"+4533123456"},`+
		`"ship_to":{"line1":"Vej 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2019-02-11T09:00:00Z","status":"delivered","closed_at":"2019-03-01T12:00:00Z","disclosed_to":[%q]}`,
		e.resellerA.ID, e.carrier.ID)
	cancelled := e.order(t, e.keyA, "PO-CANCEL", "jane@example.dk", "+4533123456")
	delivered := e.order(t, e.keyA, "PO-DELIVERED", "jane@example.dk", "+4533123456")
	open := e.order(t, e.keyA, "PO-OPEN", "jane@example.dk", "+4533123456")
	held := e.order(t, e.keyA, "PO-HELD", "jane@example.dk", "+4533123456")
	shipped := e.order(t, e.keyA, "PO-SHIPPED", "jane@example.dk", "+4533123456")
	e.shared(t, cancelled, delivered, open, held, shipped)
	if cb := signedCallbackEnv(t, e, shipped); cb != 200 {
		t.Fatalf("shipped callback: %d", cb)
	}
	e.do(t, "POST", "/v1/orders/"+cancelled+"/cancel", e.keyA, nil)
	if _, err := e.app.Orders.Close(ctx, "test", delivered, ordersClose("delivered")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Holds.Place(ctx, "test", held, "tax audit"); err != nil {
		t.Fatal(err)
	}
	req := e.request(t, `{"type":"erasure","email":"jane@example.dk"}`)
	r := e.do(t, "POST", "/v1/subject-requests/"+req["id"].(string)+"/erase", e.privacy, nil)
	if r.status != 200 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	outcome := map[string]string{}
	for _, o := range r.json(t)["orders"].([]any) {
		m := o.(map[string]any)
		outcome[m["order_id"].(string)] = fmt.Sprint(m["outcome"], " ", m["reason"], " ", m["until"])
	}
	// One rule for every closed order, however it closed: bookkeeping
	// material until its purge date (end of the fiscal year it closed in,
	// plus five years), erased after it.
	until := "2031-12-31T23:00:00Z"
	want := map[string]string{old: "erased <nil> <nil>", cancelled: "retained bookkeeping " + until, delivered: "retained bookkeeping " + until,
		open: "scheduled <nil> <nil>", held: "retained legal_hold <nil>", shipped: "scheduled <nil> <nil>"}
	for id, w := range want {
		if outcome[id] != w {
			t.Errorf("outcome of %s: %q, want %q", id, outcome[id], w)
		}
	}
	// Retained orders are restricted meanwhile; the erased one's recipient
	// is told to erase it.
	waitUntil(t, "the retained orders are restricted", func() bool {
		return e.carrierSink.bodyOf(cancelled, "order.restricted") != nil && e.carrierSink.bodyOf(held, "order.restricted") != nil
	})
	waitUntil(t, "erasure notice", func() bool { return e.carrierSink.bodyOf(old, "order.erased") != nil })
	if e.carrierSink.bodyOf(shipped, "order.restricted") != nil {
		t.Error("an order still being fulfilled was restricted")
	}
	// The open order closes as cancelled: retained like any closed order.
	e.do(t, "POST", "/v1/orders/"+open+"/cancel", e.keyA, nil)
	waitUntil(t, "the scheduled erasure is decided", func() bool { return e.carrierSink.bodyOf(open, "order.restricted") != nil })
	if v := e.do(t, "GET", "/v1/admin/orders/"+open, e.admin, nil).json(t)["order"].(map[string]any); v["erased_at"] != nil {
		t.Error("a cancelled order was erased before its purge date")
	}
	// The index holds nothing of an erased order.
	left := ids(e.request(t, `{"type":"access","email":"jane@example.dk"}`)["candidates"])
	if slices.Contains(left, old) || len(left) != 5 {
		t.Errorf("after the erasure the person's orders are %v", left)
	}
	if err := e.app.DB.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if raw := rawFiles(t, e.app.Config.DB); bytes.Contains(raw, []byte("PO-OLD")) {
		t.Error("PO-OLD is in the database files after its erasure")
	}
}

// importOne imports one historic order from a line with %q verbs for its
// arguments, and returns its id.
func importOne(t *testing.T, e *testEnv, line string, args ...any) string {
	t.Helper()
	rep, err := e.app.Orders.Import(context.Background(), "test", []byte(fmt.Sprintf(line, args...)+"\n"), false)
	if err != nil || rep.Imported != 1 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	return rep.OrderIDs[0]
}

func ordersClose(as string) orders.CloseRequest {
	return orders.CloseRequest{As: orders.Status(as), Reason: "closed by the test"}
}

// signedCallbackEnv has the carrier report the order shipped.
func signedCallbackEnv(t *testing.T, e *subjectEnv, orderID string) int {
	t.Helper()
	return signedCallback(t, e.srv.URL, e.carrier.ID, e.carrierSecret, "ship-"+orderID, "order.shipped",
		map[string]any{"order_id": orderID, "carrier": "PostNord", "tracking_number": "T1"}).status
}

func TestSubjectsAndPrivacyCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := append(dbEnv(t, dir+"/husky.db"), "HUSKY_ALLOW_PRIVATE_ENDPOINTS=true")
	p := husky(t, env, "partners", "add", "--kind", "reseller", "--name", "Shop")["partner"].(map[string]any)
	husky(t, env, "partners", "add", "--kind", "logistics", "--name", "Carrier", "--endpoint", "http://127.0.0.1:9/h",
		"--country", "GB", "--transfer-basis", "adequacy")
	if k := husky(t, env, "keys", "create", "--role", "privacy")["api_key"].(string); !strings.HasPrefix(k, "husky_privacy_") {
		t.Errorf("privacy key %q", k)
	}
	line := fmt.Sprintf(`{"reference":"R-1","customer":{"name":"Jane","email":"jane@example.dk","phone":"+4533123456"},`+
		`"ship_to":{"line1":"Vej 1","city":"Brøndby","postal_code":"2605","country":"DK"},"items":[{"sku":"HE150D-4TB","quantity":1}],`+
		`"reseller_id":%q,"created_at":"2024-02-11T09:00:00Z","status":"received"}`, p["id"])
	file := dir + "/one.jsonl"
	writeFile(t, file, line+"\n")
	husky(t, env, "orders", "import", file)
	r := husky(t, env, "subjects", "request", "--type", "rectification", "--email", "jane@example.dk", "--received-at", "2026-01-31")
	if len(r["orders"].([]any)) != 1 || r["due_date"] != "2026-02-28" {
		t.Fatalf("request: %v", r)
	}
	id := r["id"].(string)
	// The person's identifiers from standard input: out of the process
	// list and the shell history.
	cmd := exec.Command(binary(t), "subjects", "request", "--type", "access", "--identifiers", "-", "--json")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(`{"email":"jane@example.dk"}`)
	out, err := cmd.Output()
	var viaStdin map[string]any
	if err != nil || json.Unmarshal(out, &viaStdin) != nil || len(viaStdin["orders"].([]any)) != 1 {
		t.Fatalf("request from standard input: %v %s", err, out)
	}
	access := viaStdin["id"].(string)
	if help := runCLI(t, env, "subjects", "request", "-h"); !strings.Contains(help, "standard input") {
		t.Errorf("-h does not say identifiers can come from standard input: %s", help)
	}
	if list := husky(t, env, "subjects", "list", "--open")["data"].([]any); len(list) != 2 {
		t.Errorf("list: %v", list)
	}
	if ex := husky(t, env, "subjects", "export", access); len(ex["orders"].([]any)) != 1 {
		t.Errorf("export: %v", ex)
	}
	if html := runCLI(t, env, "subjects", "export", access, "--format", "html"); !strings.Contains(html, "<html") || !strings.Contains(html, "jane@example.dk") {
		t.Errorf("html export: %.200s", html)
	}
	if got := husky(t, env, "subjects", "extend", access, "--reason", "the archive must be searched"); got["extension"] == nil {
		t.Errorf("extend: %v", got)
	}
	order := r["orders"].([]any)[0].(map[string]any)["order_id"].(string)
	if got := husky(t, env, "subjects", "orders", access, "--exclude", order, "--reason", "not the caller's order"); len(got["orders"].([]any)) != 0 {
		t.Errorf("exclude: %v", got)
	}
	changes := dir + "/changes.json"
	writeFile(t, changes, `{"customer":{"email":"jane.new@example.dk"}}`)
	if got := husky(t, env, "subjects", "rectify", id, "--file", changes); !strings.Contains(fmt.Sprint(got), "email") {
		t.Errorf("rectify: %v", got)
	}
	if got := husky(t, env, "subjects", "complete", id); got["status"] != "completed" {
		t.Errorf("complete: %v", got)
	}
	if reply := husky(t, env, "subjects", "reply", id); !strings.Contains(fmt.Sprint(reply["orders"]), "we corrected: email") {
		t.Errorf("reply: %v", reply)
	}
	rec := husky(t, env, "privacy", "record")
	if rs := rec["recipients"].([]any); len(rs) != 1 || rs[0].(map[string]any)["country"] != "GB" {
		t.Errorf("record recipients: %v", rec["recipients"])
	}
	if md := runCLI(t, env, "privacy", "record", "--format", "markdown"); !strings.Contains(md, "# Record of processing") || !strings.Contains(md, "adequacy decision") {
		t.Errorf("markdown record: %.300s", md)
	}
	// The United States' adequacy decision covers certified organisations
	// only: the framework must be named, and the record shows it.
	if code, _, stderr := runExit(t, env, "partners", "add", "--kind", "manufacturer", "--name", "US Maker", "--endpoint", "http://127.0.0.1:9/m",
		"--country", "US", "--transfer-basis", "adequacy"); code == 0 || !strings.Contains(stderr, "--adequacy-framework eu-us-dpf") {
		t.Errorf("a US adequacy without its framework: exit %d %s", code, stderr)
	}
	husky(t, env, "partners", "add", "--kind", "manufacturer", "--name", "US Maker", "--endpoint", "http://127.0.0.1:9/m",
		"--country", "US", "--transfer-basis", "adequacy", "--adequacy-framework", "eu-us-dpf")
	if md := runCLI(t, env, "privacy", "record", "--format", "markdown"); !strings.Contains(md, "EU-US Data Privacy Framework") {
		t.Errorf("the record does not name the framework: %.600s", md)
	}
}
