package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/orders"
)

func (c *command) orders(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("orders needs a subcommand: import, hold, release, conflicts")
	}
	raw := envConfig()
	fs := c.flags("orders "+args[0], &raw, false)
	limit := fs.Int("limit", 1000, "how many to list")
	reason := fs.String("reason", "", "why the order is held (kept with the order; the audit trail keeps its hash)")
	skip := fs.Bool("skip-invalid", false, "import the valid lines even when others are invalid")
	a, pos, err := c.parseAndOpen(ctx, fs, &raw, args[1:])
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "import":
		if len(pos) != 1 {
			return usageError("orders import FILE")
		}
		data, err := os.ReadFile(pos[0])
		if err != nil {
			return fmt.Errorf("read import file: %w", err)
		}
		rep, err := a.Orders.Import(ctx, operator, data, *skip)
		if err != nil {
			return err
		}
		c.print(rep, func(w io.Writer) {
			for _, le := range rep.Invalid {
				for _, fe := range le.Errors {
					fmt.Fprintf(w, "line %d: %s: %s\n", le.Line, fe.Pointer, fe.Detail)
				}
			}
			fmt.Fprintf(w, "imported %d orders, skipped %d invalid lines\n", rep.Imported, rep.Skipped)
		})
		if len(rep.Invalid) > 0 && !*skip {
			return fmt.Errorf("%d invalid lines: nothing imported (use --skip-invalid to import the valid ones)", len(rep.Invalid))
		}
	case "hold", "release":
		if len(pos) != 1 {
			return usageError("orders hold ID --reason TEXT | orders release ID")
		}
		var o *orders.Order
		if args[0] == "hold" {
			o, err = a.Orders.Hold(ctx, operator, pos[0], *reason)
		} else {
			o, err = a.Orders.Release(ctx, operator, pos[0])
		}
		if err != nil {
			return err
		}
		c.print(map[string]any{"order_id": o.ID, "status": o.Status, "legal_hold": o.LegalHold}, func(w io.Writer) {
			if o.LegalHold != nil {
				fmt.Fprintf(w, "order %s is under legal hold since %s\n", o.ID, o.LegalHold.Since.Format(time.RFC3339))
			} else {
				fmt.Fprintf(w, "order %s is not under legal hold\n", o.ID)
			}
		})
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
