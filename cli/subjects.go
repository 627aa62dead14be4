package cli

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/app"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/subjects"
)

func (c *command) subjects(ctx context.Context, args []string) error {
	byID := func(name, about string, do func(ctx context.Context, a *app.App, id string) (any, error)) sub {
		return sub{name: name, args: "ID", about: about,
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				return wantArgs(1, "subjects "+name+" ID"), func(ctx context.Context, a *app.App, pos []string) error {
					v, err := do(ctx, a, pos[0])
					if err != nil {
						return err
					}
					c.printSubject(v)
					return nil
				}
			}}
	}
	return c.group(ctx, "subjects", args, []sub{
		{name: "request", args: "--type access|rectification|erasure|restriction|objection (--identifiers FILE|- | --email E [--phone P]) [--received-at TIME]",
			about: "Log a data-subject request and list the person's candidate orders across every reseller. " +
				"--identifiers reads {\"email\": …, \"phone\": …} from a file or standard input (-), so that the person's " +
				"email and phone stay out of the process list and the shell history, where --email and --phone put them.",
			bind: c.subjectsRequest},
		{name: "list", args: "[--open]", about: "Requests, oldest due first; overdue ones marked.", bind: c.subjectsList},
		{name: "show", args: "ID", about: "A request with its orders and every step taken.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				return wantArgs(1, "subjects show ID"), func(ctx context.Context, a *app.App, pos []string) error {
					r, err := a.Subjects.Get(ctx, pos[0])
					if err != nil {
						return err
					}
					c.printSubject(r)
					return nil
				}
			}},
		{name: "export", args: "ID [--format json|html]", about: "The access export (Art. 15): what is held, who received which fields when.",
			bind: c.subjectsExport},
		{name: "rectify", args: "ID --file CHANGES.json", about: `Correct the person's data in every order (Art. 16): {"customer": {…}, "ship_to": {…}}.`,
			bind: c.subjectsRectify},
		byID("erase", "Erase what bookkeeping does not require (Art. 17); the rest is retained and restricted.",
			func(ctx context.Context, a *app.App, id string) (any, error) {
				out, err := a.Subjects.Erase(ctx, operator, id)
				return map[string]any{"orders": out}, err
			}),
		byID("restrict", "Restrict sharing of the person's data (Art. 18).", func(ctx context.Context, a *app.App, id string) (any, error) {
			return a.Subjects.Restrict(ctx, operator, id)
		}),
		{name: "lift", args: "ID --reason TEXT --told-at TIME", about: "Lift the request's restriction, having told the person (Art. 18(3)); held deliveries flow.",
			bind: c.subjectsLift},
		{name: "orders", args: "ID [--include ID,…] [--exclude ID,…] --reason TEXT", about: "Include or exclude candidate orders; the request acts on included ones only.",
			bind: c.subjectsOrders},
		{name: "extend", args: "ID --reason TEXT", about: "Extend the deadline once, before it passes, by two months (Art. 12(3)).",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				reason := fs.String("reason", "", "why the request needs longer (the person is told)")
				check := func(pos []string) error {
					if len(pos) != 1 || *reason == "" {
						return usageError("subjects extend ID --reason TEXT")
					}
					return nil
				}
				return check, func(ctx context.Context, a *app.App, pos []string) error {
					r, err := a.Subjects.Extend(ctx, operator, pos[0], *reason)
					if err != nil {
						return err
					}
					c.printSubject(r)
					return nil
				}
			}},
		{name: "reply", args: "ID [--format json|html]", about: "The answer to the person (Art. 12): what was done per order, and why not where not.",
			bind: c.subjectsReply},
		byID("complete", "Close the request.", func(ctx context.Context, a *app.App, id string) (any, error) {
			return a.Subjects.Complete(ctx, operator, id)
		}),
	})
}

func (c *command) subjectsRequest(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	typ := fs.String("type", "", "access, rectification, erasure, restriction or objection")
	ids := fs.String("identifiers", "", `a JSON file {"email": …, "phone": …} naming the person, or - for standard input (keeps them out of the process list and shell history)`)
	email := fs.String("email", "", "the person's email (visible in the process list and shell history: prefer --identifiers)")
	phone := fs.String("phone", "", "the person's phone (+country code; a national number is read as Danish; prefer --identifiers)")
	received := fs.String("received-at", "", "when the request was received (RFC 3339, or a date in the fiscal time zone; default now)")
	var n subjects.NewRequest
	check := func(pos []string) error {
		const use = "subjects request --type access|rectification|erasure|restriction|objection (--identifiers FILE|- | --email E [--phone P])"
		if len(pos) != 0 || !oneOf(*typ, "access", "rectification", "erasure", "restriction", "objection") {
			return usageError(use)
		}
		n = subjects.NewRequest{Type: subjects.Type(*typ), Email: *email, Phone: *phone}
		if *ids != "" {
			if *email != "" || *phone != "" {
				return usageError("give the person by --identifiers or by --email/--phone, not both")
			}
			in, err := c.readIdentifiers(*ids)
			if err != nil {
				return err
			}
			n.Email, n.Phone = in.Email, in.Phone
		}
		if n.Email == "" && n.Phone == "" {
			return usageError(use)
		}
		if *received != "" {
			loc, err := time.LoadLocation(cmp.Or(raw.fyTZ, "Europe/Copenhagen"))
			if err != nil {
				return usageError("HUSKY_FISCAL_TZ is not a time zone")
			}
			t, err := subjects.ParseWhen(*received, loc)
			if err != nil {
				return usageError("--received-at must be an RFC 3339 time or a date (2026-01-31)")
			}
			n.ReceivedAt = t
		}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, _ []string) error {
		r, err := a.Subjects.Open(ctx, operator, n)
		if err != nil {
			return err
		}
		c.printSubject(r)
		return nil
	}
}

func (c *command) subjectsLift(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	reason := fs.String("reason", "", "why the restriction ends (for an objection: the compelling legitimate grounds, Art. 21(1))")
	told := fs.String("told-at", "", "when the person was told it would be lifted (RFC 3339 or a date)")
	var l subjects.Lifting
	check := func(pos []string) error {
		if len(pos) != 1 || *reason == "" || *told == "" {
			return usageError("subjects lift ID --reason TEXT --told-at TIME")
		}
		t, err := subjects.ParseWhen(*told, time.UTC)
		if err != nil {
			return usageError("--told-at must be an RFC 3339 time or a date")
		}
		l = subjects.Lifting{Reason: *reason, PersonToldAt: t}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		r, err := a.Subjects.Lift(ctx, operator, pos[0], l)
		if err != nil {
			return err
		}
		c.printSubject(r)
		return nil
	}
}

func (c *command) subjectsOrders(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	include := fs.String("include", "", "order ids to include, comma-separated")
	exclude := fs.String("exclude", "", "order ids to exclude, comma-separated")
	reason := fs.String("reason", "", "why (kept with the request, never in the audit trail)")
	var d subjects.Decision
	check := func(pos []string) error {
		if len(pos) != 1 || *reason == "" || (*include == "" && *exclude == "") {
			return usageError("subjects orders ID [--include ID,…] [--exclude ID,…] --reason TEXT")
		}
		d = subjects.Decision{Include: splitIDs(*include), Exclude: splitIDs(*exclude), Reason: *reason}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		r, err := a.Subjects.Decide(ctx, operator, pos[0], d)
		if err != nil {
			return err
		}
		c.printSubject(r)
		return nil
	}
}

func splitIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func (c *command) subjectsReply(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	format := fs.String("format", "json", "json or html")
	check := func(pos []string) error {
		if len(pos) != 1 || !oneOf(*format, "json", "html") {
			return usageError("subjects reply ID [--format json|html]")
		}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		rp, err := a.Subjects.Reply(ctx, pos[0])
		if err != nil {
			return err
		}
		if *format == "html" {
			return rp.WriteHTML(c.stdout)
		}
		c.json = true
		c.print(rp, nil)
		return nil
	}
}

// readIdentifiers reads {"email", "phone"} from a file, or standard input
// for "-", with the strict decoder; an error never quotes the values.
func (c *command) readIdentifiers(file string) (struct{ Email, Phone string }, error) {
	var out struct{ Email, Phone string }
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(io.LimitReader(c.stdin, 64<<10))
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return out, fmt.Errorf("read identifiers: %w", err)
	}
	var in struct {
		Email string `json:"email"`
		Phone string `json:"phone"`
	}
	if err := api.Decode(b, &in); err != nil {
		return out, usageError("--identifiers must hold a JSON object {\"email\": …, \"phone\": …}")
	}
	out.Email, out.Phone = in.Email, in.Phone
	return out, nil
}

func (c *command) subjectsList(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	open := fs.Bool("open", false, "only requests not yet completed")
	return wantArgs(0, "subjects list takes flags only"), func(ctx context.Context, a *app.App, _ []string) error {
		st := subjects.Status("")
		if *open {
			st = subjects.StatusOpen
		}
		rs, err := a.Subjects.List(ctx, st, 1000)
		if err != nil {
			return err
		}
		c.print(map[string]any{"data": rs}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tRECEIVED\tDUE\t")
			for _, r := range rs {
				late := ""
				if r.Overdue {
					late = "OVERDUE"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Type, r.Status, r.ReceivedAt.Format(time.DateOnly), r.DueDate, late)
			}
			tw.Flush()
		})
		return nil
	}
}

func (c *command) subjectsExport(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	format := fs.String("format", "json", "json or html")
	check := func(pos []string) error {
		if len(pos) != 1 || !oneOf(*format, "json", "html") {
			return usageError("subjects export ID [--format json|html]")
		}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		// A file for the DPO to send: every page, read one after another
		// (each audited as the API's are), in one document.
		e, err := a.Subjects.Export(ctx, operator, pos[0], "", subjects.PageSize)
		for more := e.HasMore; err == nil && more; {
			var next subjects.Export
			cursor, _ := base64.RawURLEncoding.DecodeString(e.NextCursor)
			if next, err = a.Subjects.Export(ctx, operator, pos[0], string(cursor), subjects.PageSize); err == nil {
				e.Orders, e.NextCursor, more = append(e.Orders, next.Orders...), next.NextCursor, next.HasMore
			}
		}
		if err != nil {
			return err
		}
		e.HasMore, e.NextCursor = false, ""
		if *format == "html" {
			return e.WriteHTML(c.stdout)
		}
		c.json = true
		c.print(e, nil)
		return nil
	}
}

func (c *command) subjectsRectify(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	file := fs.String("file", "", `a JSON file of the changes: {"customer": {"phone": …}, "ship_to": {…}}`)
	var ch orders.Rectification
	check := func(pos []string) error {
		if len(pos) != 1 || *file == "" {
			return usageError("subjects rectify ID --file CHANGES.json")
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("read changes: %w", err)
		}
		ch, err = orders.DecodeRectification(b)
		return err
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		out, err := a.Subjects.Rectify(ctx, operator, pos[0], ch)
		if err != nil {
			return err
		}
		c.printSubject(map[string]any{"orders": out})
		return nil
	}
}

// printSubject prints a request, or an outcome, as JSON with --json and
// as a short summary otherwise.
func (c *command) printSubject(v any) {
	c.print(v, func(w io.Writer) {
		switch x := v.(type) {
		case *subjects.Request:
			fmt.Fprintf(w, "%s (%s, %s) received %s, due at the end of %s", x.ID, x.Type, x.Status, x.ReceivedAt.Format(time.DateOnly), x.DueDate)
			if x.Overdue {
				fmt.Fprint(w, ", OVERDUE")
			}
			fmt.Fprintf(w, "\n%d candidate orders, %d included:\n", len(x.Candidates), len(x.Orders))
			for _, o := range x.Candidates {
				fmt.Fprintf(w, "  %s  reseller %s  %s  created %s  matched on %s  %s", o.OrderID, o.ResellerID, o.Status,
					o.CreatedAt.Format(time.DateOnly), strings.Join(o.MatchedOn, ","), strings.ToUpper(o.State))
				if o.Reason != "" {
					fmt.Fprintf(w, " (%s)", o.Reason)
				}
				fmt.Fprintln(w)
			}
			for _, st := range x.Steps {
				fmt.Fprintf(w, "  step %d %s %s by %s\n", st.Seq, st.Time.Format(time.RFC3339), st.Action, st.Actor)
			}
		default:
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(v)
		}
	})
}

func (c *command) privacy(ctx context.Context, args []string) error {
	return c.group(ctx, "privacy", args, []sub{
		{name: "record", args: "[--format json|markdown]", about: "The record of processing (Art. 30), written from the running configuration.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				fs.StringVar(&raw.fyStart, "fiscal-year-start", raw.fyStart, "first month of the fiscal year (HUSKY_FISCAL_YEAR_START)")
				fs.StringVar(&raw.fyTZ, "fiscal-tz", raw.fyTZ, "time zone of the fiscal calendar (HUSKY_FISCAL_TZ)")
				fs.StringVar(&raw.retention, "retention-years", raw.retention, "years kept after the fiscal year ends (HUSKY_RETENTION_YEARS)")
				format := fs.String("format", "json", "json or markdown")
				check := func(pos []string) error {
					if len(pos) != 0 || !oneOf(*format, "json", "markdown") {
						return usageError("privacy record [--format json|markdown]")
					}
					return nil
				}
				return check, func(ctx context.Context, a *app.App, _ []string) error {
					rec, err := a.Subjects.Record(ctx, a.Calendar)
					if err != nil {
						return err
					}
					if *format == "markdown" {
						return rec.WriteMarkdown(c.stdout)
					}
					c.json = true
					c.print(rec, nil)
					return nil
				}
			}},
	})
}
