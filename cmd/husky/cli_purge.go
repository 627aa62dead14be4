package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/retention"
)

func (c *command) purge(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("purge needs a subcommand: report, run, show")
	}
	raw := envConfig()
	fs := c.flags("purge "+args[0], &raw, false)
	fs.StringVar(&raw.fyStart, "fiscal-year-start", raw.fyStart, "first month of the fiscal year (HUSKY_FISCAL_YEAR_START)")
	fs.StringVar(&raw.fyTZ, "fiscal-tz", raw.fyTZ, "time zone of the fiscal calendar (HUSKY_FISCAL_TZ)")
	fs.StringVar(&raw.retention, "retention-years", raw.retention, "years kept after the fiscal year ends (HUSKY_RETENTION_YEARS)")
	asOf := fs.String("as-of", "", "report as of this date (YYYY-MM-DD, fiscal time zone; default today)")
	format := fs.String("format", "json", "report format: json or csv")
	a, pos, err := c.parseAndOpen(ctx, fs, &raw, args[1:])
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "report":
		day := a.Now().In(a.Calendar.Location)
		if *asOf != "" {
			if day, err = a.Calendar.ParseDate(*asOf); err != nil {
				return usageError("--as-of: %v", err)
			}
		}
		rep, err := a.Reporter.Report(ctx, day)
		if err != nil {
			return err
		}
		switch *format {
		case "csv":
			return rep.WriteCSV(c.stdout)
		case "json":
			c.json = true
			c.print(rep, nil)
		default:
			return usageError("--format must be json or csv")
		}
	case "run":
		run, err := a.Purger.PurgeNow(ctx, operator)
		if err != nil {
			return err
		}
		c.printRun(run)
	case "show":
		if len(pos) != 1 {
			return usageError("purge show RUN_ID")
		}
		run, err := a.Purger.Get(ctx, pos[0])
		if err != nil {
			return err
		}
		if *format == "csv" {
			return run.WriteCSV(c.stdout)
		}
		c.printRun(run)
	default:
		return usageError("unknown purge subcommand %q", args[0])
	}
	return nil
}

func (c *command) printRun(run retention.Run) {
	c.print(run, func(w io.Writer) {
		fmt.Fprintf(w, "purge run %s (%s) as of %s\n", run.ID, run.Status, run.AsOf.Format(time.RFC3339))
		fmt.Fprintf(w, "orders %d, erased %d, held %d, erasure notices %d\ndigest %s\n", run.Counts.Orders, run.Counts.Erased,
			run.Counts.Held, run.Counts.Notices, run.Digest)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RECIPIENT\tNOTIFIED\tDELIVERED\tACKNOWLEDGED\tPENDING\tDEAD")
		for _, r := range run.Recipients {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", r.PartnerID, r.Notified, r.Delivered, r.Acknowledged, r.Pending, r.Dead)
		}
		tw.Flush()
	})
}
