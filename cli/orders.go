package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/retention"
)

func (c *command) orders(ctx context.Context, args []string) error {
	return c.group(ctx, "orders", args, []sub{
		{name: "import", args: "FILE [--skip-invalid]", creates: true,
			about: "Import historic orders (JSON lines) with their dates, states and earlier recipients; no webhook is sent.",
			bind:  c.ordersImport},
		{name: "hold", args: "ID --reason TEXT", about: "Put an order under legal hold: it is never purged until released.",
			bind: c.ordersHold},
		{name: "release", args: "ID", about: "Lift an order's legal hold.", bind: c.ordersRelease},
		{name: "close", args: "ID --as cancelled|delivered [--at TIME] --reason TEXT",
			about: "Close an order that never reached a final state (the purge report's stale list); retention counts from --at.",
			bind:  c.ordersClose},
		{name: "conflicts", args: "[--limit N]", about: "Recipient events that contradict the order (shipped after cancel).",
			bind: c.ordersConflicts},
	})
}

func (c *command) ordersImport(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	skip := fs.Bool("skip-invalid", false, "import the valid lines even when others are invalid")
	var data []byte
	check := func(pos []string) error {
		if len(pos) != 1 {
			return usageError("orders import FILE")
		}
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return fmt.Errorf("read import file: %w", err)
		}
		data = b
		return nil
	}
	run := func(ctx context.Context, a *app.App, _ []string) error {
		rep, err := a.Orders.Import(ctx, operator, data, *skip)
		if err != nil {
			return err
		}
		refused := len(rep.Invalid) > 0 && !*skip
		c.print(rep, func(w io.Writer) {
			for _, le := range rep.Invalid {
				for _, fe := range le.Errors {
					fmt.Fprintf(w, "line %d: %s: %s\n", le.Line, fe.Pointer, fe.Detail)
				}
			}
			if !refused {
				fmt.Fprintf(w, "imported %d orders, skipped %d invalid lines\n", rep.Imported, rep.Skipped)
			}
		})
		if refused {
			return fmt.Errorf("nothing imported: %d invalid lines (fix them, or use --skip-invalid to import the valid ones)", len(rep.Invalid))
		}
		return nil
	}
	return check, run
}

func (c *command) ordersHold(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	reason := fs.String("reason", "", "why the order is held (kept with the order; the audit trail keeps its hash)")
	check := func(pos []string) error {
		if len(pos) != 1 || *reason == "" {
			return usageError("orders hold ID --reason TEXT")
		}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		o, err := a.Holds.Place(ctx, operator, pos[0], *reason)
		if err != nil {
			return err
		}
		c.printHold(o)
		return nil
	}
}

func (c *command) ordersRelease(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	return wantArgs(1, "orders release ID"), func(ctx context.Context, a *app.App, pos []string) error {
		o, err := a.Holds.Release(ctx, operator, pos[0])
		if err != nil {
			return err
		}
		c.printHold(o)
		return nil
	}
}

func (c *command) printHold(v retention.HoldView) {
	c.print(map[string]any{"order_id": v.OrderID, "status": v.Status, "legal_hold": v.LegalHold}, func(w io.Writer) {
		if v.LegalHold != nil {
			fmt.Fprintf(w, "order %s is under legal hold since %s\n", v.OrderID, v.LegalHold.Since.Format(time.RFC3339))
		} else {
			fmt.Fprintf(w, "order %s is not under legal hold\n", v.OrderID)
		}
	})
}

func (c *command) ordersClose(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	as := fs.String("as", "", "cancelled or delivered")
	at := fs.String("at", "", "when it reached that state (RFC 3339; default now)")
	reason := fs.String("reason", "", "why it is closed (kept with the order and erased with it; the audit trail keeps its hash)")
	var req orders.CloseRequest
	check := func(pos []string) error {
		if len(pos) != 1 || *reason == "" || !oneOf(*as, "cancelled", "delivered") {
			return usageError("orders close ID --as cancelled|delivered [--at TIME] --reason TEXT")
		}
		req = orders.CloseRequest{As: orders.Status(*as), Reason: *reason}
		if *at != "" {
			t, err := time.Parse(time.RFC3339, *at)
			if err != nil {
				return usageError("--at must be an RFC 3339 time such as 2026-11-28T12:00:00Z")
			}
			req.At = t
		}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, pos []string) error {
		o, err := a.Orders.Close(ctx, operator, pos[0], req)
		if err != nil {
			return err
		}
		v := orders.ClosedView(o)
		c.print(v, func(w io.Writer) {
			fmt.Fprintf(w, "order %s closed as %s at %s", v.OrderID, v.Status, v.ClosedAt.Format(time.RFC3339))
			if v.PurgeAfter != nil {
				fmt.Fprintf(w, "; its personal data is erased after %s", v.PurgeAfter.Format(time.DateOnly))
			}
			fmt.Fprintln(w)
		})
		return nil
	}
}

func (c *command) ordersConflicts(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	limit := fs.Int("limit", 1000, "how many to list, newest first (each order's read is audited)")
	return wantArgs(0, "orders conflicts takes flags only"), func(ctx context.Context, a *app.App, _ []string) error {
		evs, err := a.Orders.Conflicts(ctx, operator, 0, *limit)
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
		return nil
	}
}
