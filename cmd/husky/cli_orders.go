package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

func (c *command) orders(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("orders needs a subcommand: conflicts")
	}
	raw := envConfig()
	fs := c.flags("orders "+args[0], &raw, false)
	limit := fs.Int("limit", 1000, "how many to list")
	if _, err := parseAll(fs, args[1:]); err != nil {
		return err
	}
	a, err := c.open(ctx, raw)
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "conflicts":
		evs, err := a.Orders.Conflicts(ctx, *limit)
		if err != nil {
			return err
		}
		c.print(map[string]any{"data": evs}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tORDER\tPARTNER\tEVENT\tORDER STATUS")
			for _, e := range evs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.OrderID, e.PartnerID, e.Type, e.From)
			}
			tw.Flush()
		})
	default:
		return usageError("unknown orders subcommand %q", args[0])
	}
	return nil
}
