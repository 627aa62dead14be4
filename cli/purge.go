package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/retention"
)

func (c *command) purge(ctx context.Context, args []string) error {
	calendar := func(fs *flag.FlagSet, raw *rawConfig) {
		fs.StringVar(&raw.fyStart, "fiscal-year-start", raw.fyStart, "first month of the fiscal year (HUSKY_FISCAL_YEAR_START)")
		fs.StringVar(&raw.fyTZ, "fiscal-tz", raw.fyTZ, "time zone of the fiscal calendar (HUSKY_FISCAL_TZ)")
		fs.StringVar(&raw.retention, "retention-years", raw.retention, "years kept after the fiscal year ends (HUSKY_RETENTION_YEARS)")
	}
	return c.group(ctx, "purge", args, []sub{
		{name: "report", args: "[--as-of DATE] [--format json|csv]",
			about: "Dry run: what a purge would erase as of a date, what a legal hold keeps, and what never closed.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				calendar(fs, raw)
				return c.purgeReport(fs, raw)
			}},
		{name: "run", about: "Erase every order past retention now, tell the recipients, and print the evidence.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				calendar(fs, raw)
				return wantArgs(0, "purge run takes no arguments"), func(ctx context.Context, a *app.App, _ []string) error {
					run, err := a.Purger.PurgeNow(ctx, operator)
					if err != nil {
						return err
					}
					c.printRun(run)
					return nil
				}
			}},
		{name: "show", args: "RUN_ID [--format json|csv]", about: "A purge run with its evidence and erasure notices.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				format := fs.String("format", "json", "json or csv")
				check := func(pos []string) error {
					if len(pos) != 1 || !oneOf(*format, "json", "csv") {
						return usageError("purge show RUN_ID [--format json|csv]")
					}
					return nil
				}
				return check, func(ctx context.Context, a *app.App, pos []string) error {
					run, err := a.Purger.Get(ctx, pos[0])
					if err != nil {
						return err
					}
					if *format == "csv" {
						return run.WriteCSV(c.stdout)
					}
					c.printRun(run)
					return nil
				}
			}},
	})
}

func (c *command) purgeReport(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	asOf := fs.String("as-of", "", "report as of this date (YYYY-MM-DD, fiscal time zone; default today)")
	format := fs.String("format", "json", "json or csv")
	check := func(pos []string) error {
		switch {
		case len(pos) != 0:
			return usageError("purge report takes flags only")
		case !oneOf(*format, "json", "csv"):
			return usageError("--format must be json or csv")
		case *asOf != "":
			if _, err := time.Parse(time.DateOnly, *asOf); err != nil {
				return usageError("--as-of must be a date such as 2026-11-29")
			}
		}
		return nil
	}
	run := func(ctx context.Context, a *app.App, _ []string) error {
		day := a.Clock.Now().In(a.Calendar.Location)
		if *asOf != "" {
			day, _ = a.Calendar.ParseDate(*asOf)
		}
		rep, err := a.Reporter.Report(ctx, day)
		if err != nil {
			return err
		}
		if *format == "csv" {
			return rep.WriteCSV(c.stdout)
		}
		c.json = true
		c.print(rep, nil)
		return nil
	}
	return check, run
}

func (c *command) printRun(run retention.Run) {
	c.print(run, func(w io.Writer) {
		fmt.Fprintf(w, "purge run %s (%s) as of %s\n", run.ID, run.Status, run.AsOf.Format(time.RFC3339))
		fmt.Fprintf(w, "orders %d, erased %d, held %d, erasure notices %d, subject requests deleted %d\ndigest %s\n", run.Counts.Orders,
			run.Counts.Erased, run.Counts.Held, run.Counts.Notices, run.Counts.Requests, run.Digest)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RECIPIENT\tNOTIFIED\tDELIVERED\tACKNOWLEDGED\tPENDING\tDEAD")
		for _, r := range run.Recipients {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", r.PartnerID, r.Notified, r.Delivered, r.Acknowledged, r.Pending, r.Dead)
		}
		tw.Flush()
	})
}
