package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/sharing"
)

func (c *command) deliveries(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("deliveries needs a subcommand: list, replay")
	}
	raw := envConfig()
	fs := c.flags("deliveries "+args[0], &raw, false)
	status := fs.String("status", "", "pending, delivered or dead")
	order := fs.String("order", "", "only this order's deliveries")
	limit := fs.Int("limit", 100, "how many to list")
	since := fs.String("since", "", "replay every dead delivery that died at or after this RFC 3339 time")
	a, pos, err := c.parseAndOpen(ctx, fs, &raw, args[1:])
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "list":
		st := sharing.Status(*status)
		switch st {
		case "", sharing.StatusPending, sharing.StatusDelivered, sharing.StatusDead:
		default:
			return usageError("--status must be pending, delivered or dead")
		}
		ds, more, err := a.Deliveries.List(ctx, sharing.ListFilter{Status: st, OrderID: *order, Limit: *limit})
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
	case "replay":
		var ids []string
		switch {
		case *since != "" && len(pos) == 0:
			t, err := time.Parse(time.RFC3339, *since)
			if err != nil {
				return usageError("--since must be an RFC 3339 time such as 2026-11-28T00:00:00Z")
			}
			if ids, err = a.Deliveries.ReplayDeadSince(ctx, operator, t); err != nil {
				return err
			}
		case *since == "" && len(pos) == 1:
			if err := a.Deliveries.Replay(ctx, operator, pos[0]); err != nil {
				return err
			}
			ids = pos
		default:
			return usageError("deliveries replay ID | --since TIME")
		}
		c.print(map[string]any{"replayed": ids}, func(w io.Writer) {
			fmt.Fprintf(w, "%d deliveries queued again; a running `husky serve` sends them within a second\n", len(ids))
		})
	default:
		return usageError("unknown deliveries subcommand %q", args[0])
	}
	return nil
}
