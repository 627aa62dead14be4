package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/breaches"
)

func (c *command) breaches(ctx context.Context, args []string) error {
	return c.group(ctx, "breaches", args, []sub{
		{name: "open", args: "--where service|PARTNER_ID,… --from TIME [--to TIME] --aware-at TIME --description TEXT [--consequences TEXT] [--measures TEXT]",
			about: "Record a personal data breach (Art. 33) and compute what it touched from the disclosures and acknowledged erasures. " +
				"The texts are the DPO's own and must not name a person.",
			bind: c.breachesOpen},
		{name: "list", about: "The register, latest awareness first, with each breach's 72-hour deadline; overdue ones marked.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				return wantArgs(0, "breaches list takes no arguments"), func(ctx context.Context, a *app.App, _ []string) error {
					bs, err := a.Breaches.List(ctx, 1000)
					if err != nil {
						return err
					}
					c.print(map[string]any{"data": bs}, func(w io.Writer) { printBreaches(w, bs) })
					return nil
				}
			}},
		{name: "show", args: "ID [--recompute] [--format json|html]",
			about: "A breach with its impact; --recompute works it out again first; --format html writes the notification to the authority (Art. 33(3)).",
			bind:  c.breachesShow},
		{name: "notified", args: "ID [--at TIME] [--late-reason TEXT]", about: "Record that the supervisory authority was notified; past 72 hours a reason is required.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				at := fs.String("at", "", "when it was notified (RFC 3339; default now)")
				late := fs.String("late-reason", "", "why the notification comes after 72 hours (Art. 33(1))")
				return wantArgs(1, "breaches notified ID [--at TIME] [--late-reason TEXT]"), func(ctx context.Context, a *app.App, pos []string) error {
					b, err := a.Breaches.Notified(ctx, operator, pos[0], breaches.Notification{NotifiedAt: *at, LateReason: *late})
					if err != nil {
						return err
					}
					c.print(b, func(w io.Writer) { printBreach(w, b) })
					return nil
				}
			}},
	})
}

func (c *command) breachesOpen(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	var n breaches.NewBreach
	where := fs.String("where", "", `where it happened: "service", or recipients' partner ids, comma-separated`)
	fs.StringVar(&n.From, "from", "", "when the breach began (RFC 3339)")
	fs.StringVar(&n.To, "to", "", "when it ended (RFC 3339; default now: still under way)")
	fs.StringVar(&n.AwareAt, "aware-at", "", "when the controller became aware of it (RFC 3339); the 72 hours count from here")
	fs.StringVar(&n.Description, "description", "", "the nature of the breach")
	fs.StringVar(&n.Consequences, "consequences", "", "its likely consequences")
	fs.StringVar(&n.Measures, "measures", "", "the measures taken or proposed")
	return wantArgs(0, "breaches open takes flags only"), func(ctx context.Context, a *app.App, _ []string) error {
		if *where != "" {
			n.Where = strings.Split(*where, ",")
		}
		b, err := a.Breaches.Open(ctx, operator, n)
		if err != nil {
			return err
		}
		c.print(b, func(w io.Writer) { printBreach(w, b) })
		return nil
	}
}

func (c *command) breachesShow(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	recompute := fs.Bool("recompute", false, "work the impact out again from the records as they are now")
	format := fs.String("format", "", "json, or html for the notification to the authority")
	check := func(pos []string) error {
		if len(pos) != 1 || !oneOf(*format, "", "json", "html") {
			return usageError("breaches show ID [--recompute] [--format json|html]")
		}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		var b *breaches.Breach
		var err error
		if *recompute {
			b, err = a.Breaches.Recompute(ctx, operator, pos[0])
		} else {
			b, err = a.Breaches.Get(ctx, pos[0])
		}
		if err != nil {
			return err
		}
		if *format == "html" {
			d, err := a.Breaches.Document(ctx, pos[0])
			if err != nil {
				return err
			}
			return d.WriteHTML(c.stdout)
		}
		if *format == "json" {
			c.json = true
		}
		c.print(b, func(w io.Writer) { printBreach(w, b) })
		return nil
	}
}

func printBreaches(w io.Writer, bs []*breaches.Breach) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tWHERE\tAWARE\tDUE\tNOTIFIED\tORDERS\tPERSONS\t")
	for _, b := range bs {
		notified := "no"
		switch {
		case b.NotifiedAt != nil && b.Late:
			notified = b.NotifiedAt.Format(time.DateOnly) + " (late)"
		case b.NotifiedAt != nil:
			notified = b.NotifiedAt.Format(time.DateOnly)
		case b.Overdue:
			notified = "OVERDUE"
		}
		orders, persons := "-", "-"
		if b.Impact != nil {
			orders, persons = fmt.Sprint(b.Impact.Orders), fmt.Sprint(b.Impact.Persons)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", b.ID, where(b), b.AwareAt.Format("2006-01-02 15:04"),
			b.DueAt.Format("2006-01-02 15:04"), notified, orders, persons)
	}
	tw.Flush()
}

func where(b *breaches.Breach) string {
	if b.Scope == breaches.ScopeService {
		return "this service"
	}
	return strings.Join(b.Recipients, ",")
}

func printBreach(w io.Writer, b *breaches.Breach) {
	printBreaches(w, []*breaches.Breach{b})
	if im := b.Impact; im != nil {
		fmt.Fprintf(w, "\n%d orders, %d persons (%d can be written to; %d orders erased since), %d still held (%.0f%%)\n",
			im.Orders, im.Persons, im.PersonsContactable, im.ErasedOrders, im.StillHeld, 100*im.StillHeldShare)
		for _, f := range im.Fields {
			fmt.Fprintf(w, "  %-8s %8d  %s\n", f.Field, f.Orders, f.Category)
		}
		var cs []string
		for _, c := range im.Countries {
			cs = append(cs, fmt.Sprintf("%s %d", c.Country, c.Orders))
		}
		fmt.Fprintf(w, "countries: %s\n", strings.Join(cs, ", "))
	}
}
