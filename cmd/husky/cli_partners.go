package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/partners"
)

// operator is the audit actor for commands run on the host.
const operator = "operator:cli"

// parseAll parses flags wherever they stand among the positional arguments
// and returns the positional ones.
func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *command) partners(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("partners needs a subcommand: add, list, rotate-secret, enable, disable")
	}
	raw := envConfig()
	fs := c.flags("partners "+args[0], &raw, false)
	var (
		kind     = fs.String("kind", "", "reseller, logistics or manufacturer")
		name     = fs.String("name", "", "partner name")
		endpoint = fs.String("endpoint", "", "webhook endpoint URL (recipients)")
		fields   = fs.String("fields", "", "personal fields the recipient may receive: a subset of phone,email,address (default all)")
		id       = fs.String("id", "", "keep an earlier system's partner id (ptn_…); default a new one")
		grace    = fs.Duration("grace", 24*time.Hour, "how long the old secret keeps signing after rotate-secret")
	)
	a, pos, err := c.parseAndOpen(ctx, fs, &raw, args[1:])
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "add":
		k, err := partners.ParseKind(*kind)
		if err != nil {
			return err
		}
		p, secret, err := a.Partners.Add(ctx, operator, partners.NewPartner{ID: *id, Kind: k, Name: *name, EndpointURL: *endpoint, Fields: *fields})
		if err != nil {
			return err
		}
		out := map[string]any{"partner": p}
		if secret != "" {
			out["webhook_secret"] = secret
		}
		c.print(out, func(w io.Writer) {
			fmt.Fprintf(w, "partner %s (%s) %q added\n", p.ID, p.Kind, p.Name)
			if secret != "" {
				fmt.Fprintf(w, "fields: %s\nwebhook secret (shown once): %s\n", partners.FieldsString(p.Fields), secret)
			}
		})
	case "list":
		ps, err := a.Partners.List(ctx)
		if err != nil {
			return err
		}
		c.print(map[string]any{"data": ps}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tNAME\tENABLED\tFIELDS\tENDPOINT")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\n", p.ID, p.Kind, p.Name, p.Enabled, partners.FieldsString(p.Fields), p.EndpointURL)
			}
			tw.Flush()
		})
	case "rotate-secret":
		if len(pos) != 1 {
			return usageError("partners rotate-secret ID")
		}
		secret, err := a.Partners.RotateSecret(ctx, operator, pos[0], *grace)
		if err != nil {
			return err
		}
		c.print(map[string]any{"partner_id": pos[0], "webhook_secret": secret, "old_secret_valid_for": grace.String()}, func(w io.Writer) {
			fmt.Fprintf(w, "new webhook secret (shown once): %s\nthe old secret keeps signing for %s\n", secret, *grace)
		})
	case "enable", "disable":
		if len(pos) != 1 {
			return usageError("partners %s ID", args[0])
		}
		enabled := args[0] == "enable"
		reason := ""
		if !enabled {
			reason = "operator"
		}
		if err := a.Partners.SetEnabled(ctx, operator, pos[0], enabled, reason); err != nil {
			return err
		}
		c.print(map[string]any{"partner_id": pos[0], "enabled": enabled}, func(w io.Writer) {
			fmt.Fprintf(w, "partner %s %sd\n", pos[0], args[0])
		})
	default:
		return usageError("unknown partners subcommand %q", args[0])
	}
	return nil
}

func (c *command) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("keys needs a subcommand: create, list, revoke")
	}
	raw := envConfig()
	fs := c.flags("keys "+args[0], &raw, false)
	role := fs.String("role", "", "reseller, finance or admin")
	partner := fs.String("partner", "", "the reseller a reseller key acts for")
	a, pos, err := c.parseAndOpen(ctx, fs, &raw, args[1:])
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "create":
		r, err := partners.ParseRole(*role)
		if err != nil {
			return err
		}
		if r == partners.RoleReseller && *partner == "" {
			return usageError("a reseller key needs --partner ID")
		}
		k, secret, err := a.Partners.CreateKey(ctx, operator, r, *partner)
		if err != nil {
			return err
		}
		c.print(map[string]any{"key": k, "api_key": secret}, func(w io.Writer) {
			fmt.Fprintf(w, "key %s (%s) created\nAPI key (shown once): %s\n", k.ID, k.Role, secret)
		})
	case "list":
		ks, err := a.Partners.Keys(ctx)
		if err != nil {
			return err
		}
		c.print(map[string]any{"data": ks}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tPARTNER\tCREATED\tREVOKED")
			for _, k := range ks {
				rev := ""
				if k.RevokedAt != nil {
					rev = k.RevokedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Role, k.PartnerID, k.CreatedAt.Format(time.RFC3339), rev)
			}
			tw.Flush()
		})
	case "revoke":
		if len(pos) != 1 {
			return usageError("keys revoke ID")
		}
		if err := a.Partners.RevokeKey(ctx, operator, pos[0]); err != nil {
			return err
		}
		c.print(map[string]any{"key_id": pos[0], "revoked": true}, func(w io.Writer) {
			fmt.Fprintf(w, "key %s revoked\n", pos[0])
		})
	default:
		return usageError("unknown keys subcommand %q", args[0])
	}
	return nil
}
