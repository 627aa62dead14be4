package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/sharing"
)

func (c *command) deliveries(ctx context.Context, args []string) error {
	return c.group(ctx, "deliveries", args, []sub{
		{name: "list", args: "[--status pending|delivered|dead] [--order ID] [--limit N]",
			about: "List deliveries, newest first.", bind: c.deliveriesList},
		{name: "replay", args: "ID | --since TIME",
			about: "Send a delivery again from the start of its schedule (same webhook-id), or every dead one since TIME.",
			bind:  c.deliveriesReplay},
	})
}

func (c *command) deliveriesList(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	status := fs.String("status", "", "pending, delivered or dead")
	order := fs.String("order", "", "only this order's deliveries")
	limit := fs.Int("limit", 100, "how many to list")
	check := func(pos []string) error {
		switch {
		case len(pos) != 0:
			return usageError("deliveries list takes flags only")
		case !oneOf(*status, "", "pending", "delivered", "dead"):
			return usageError("--status must be pending, delivered or dead")
		case *limit < 1:
			return usageError("--limit must be at least 1")
		}
		return nil
	}
	run := func(ctx context.Context, a *app.App, _ []string) error {
		ds, more, err := a.Deliveries.List(ctx, sharing.ListFilter{Status: sharing.Status(*status), OrderID: *order, Limit: *limit})
		if err != nil {
			return err
		}
		c.print(map[string]any{"data": ds, "has_more": more}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tEVENT\tORDER\tPARTNER\tSTATUS\tATTEMPTS\tLAST")
			for _, d := range ds {
				last := d.LastError
				if d.LastStatus != nil && last == "" {
					last = fmt.Sprint(*d.LastStatus)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.EventType, d.OrderID, d.PartnerID, d.Status, d.Attempts, last)
			}
			tw.Flush()
			if more {
				fmt.Fprintf(w, "(more: raise --limit)\n")
			}
		})
		return nil
	}
	return check, run
}

func (c *command) deliveriesReplay(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	since := fs.String("since", "", "replay every dead delivery that died at or after this RFC 3339 time")
	var at time.Time
	check := func(pos []string) error {
		switch {
		case *since != "" && len(pos) == 0:
			t, err := time.Parse(time.RFC3339, *since)
			if err != nil {
				return usageError("--since must be an RFC 3339 time such as 2026-11-28T00:00:00Z")
			}
			at = t
		case *since == "" && len(pos) == 1:
		default:
			return usageError("deliveries replay ID | --since TIME")
		}
		return nil
	}
	run := func(ctx context.Context, a *app.App, pos []string) error {
		var ids []string
		if len(pos) == 0 {
			var err error
			if ids, err = a.Deliveries.ReplayDeadSince(ctx, operator, at); err != nil {
				return err
			}
		} else {
			if err := a.Deliveries.Replay(ctx, operator, pos[0]); err != nil {
				return err
			}
			ids = pos
		}
		c.print(map[string]any{"replayed": ids}, func(w io.Writer) {
			fmt.Fprintf(w, "%d deliveries queued again; a running `husky serve` sends them within a second\n", len(ids))
		})
		return nil
	}
	return check, run
}
