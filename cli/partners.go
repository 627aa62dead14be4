package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/keys"
	"github.com/milestone/husky/partners"
)

// operator is the audit actor for commands run on the host.
const operator = "operator:cli"

func (c *command) partners(ctx context.Context, args []string) error {
	return c.group(ctx, "partners", args, []sub{
		{name: "add", creates: true,
			args: "--kind reseller|logistics|manufacturer --name NAME [--endpoint URL] [--fields phone,email,address] " +
				"[--country CC] [--transfer-basis eea|adequacy|scc|bcr] [--adequacy-framework eu-us-dpf|pipeda] [--id ptn_…]",
			about: "Add a reseller or a recipient. A recipient's webhook secret is printed once.",
			bind:  c.partnersAdd},
		{name: "list", about: "List every partner.", bind: c.partnersList},
		{name: "rotate-secret", args: "ID [--grace 24h]",
			about: "Issue a new webhook secret; the old one keeps signing beside it for the grace period.",
			bind:  c.partnersRotate},
		{name: "enable", args: "ID", about: "Enable a partner: its keys work again, deliveries to it flow again.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				return c.partnersSetEnabled(true)
			}},
		{name: "disable", args: "ID", about: "Disable a partner: a reseller's keys stop at once; deliveries to a recipient wait.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				return c.partnersSetEnabled(false)
			}},
	})
}

func (c *command) partnersAdd(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	var (
		kind     = fs.String("kind", "", "reseller, logistics or manufacturer")
		name     = fs.String("name", "", "partner name")
		endpoint = fs.String("endpoint", "", "webhook endpoint URL (recipients)")
		fields   = fs.String("fields", "", "personal fields the recipient may receive: a subset of phone,email,address (default all)")
		id       = fs.String("id", "", "keep an earlier system's partner id (ptn_…); default a new one")
		country  = fs.String("country", "DK", "the recipient's country, ISO 3166-1 alpha-2")
		basis    = fs.String("transfer-basis", "eea", "what makes a transfer to that country lawful: eea, adequacy, scc or bcr")
		framewk  = fs.String("adequacy-framework", "", "with adequacy where the decision covers only some organisations: eu-us-dpf (US), pipeda (CA)")
	)
	np := func(k partners.Kind) partners.NewPartner {
		return partners.NewPartner{ID: *id, Kind: k, Name: *name, EndpointURL: *endpoint, Fields: *fields, Country: *country, TransferBasis: *basis,
			AdequacyFramework: *framewk}
	}
	check := func(pos []string) error {
		if len(pos) != 0 {
			return usageError("partners add takes flags only")
		}
		cfg, err := raw.config()
		if err != nil {
			return err
		}
		k, err := partners.ParseKind(*kind)
		if err != nil {
			return err
		}
		return partners.CheckNew(np(k), cfg.AllowPrivateEndpoints)
	}
	run := func(ctx context.Context, a *app.App, _ []string) error {
		k, _ := partners.ParseKind(*kind)
		if err := a.RefuseRealInDemo(ctx); err != nil {
			return err
		}
		p, secret, err := a.Partners.Add(ctx, operator, np(k))
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
		return nil
	}
	return check, run
}

func (c *command) partnersList(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	return wantArgs(0, "partners list takes no arguments"), func(ctx context.Context, a *app.App, _ []string) error {
		ps, err := a.Partners.List(ctx)
		if err != nil {
			return err
		}
		c.print(map[string]any{"data": ps}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tNAME\tENABLED\tFIELDS\tCOUNTRY\tTRANSFER\tENDPOINT")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\n", p.ID, p.Kind, p.Name, p.Enabled, partners.FieldsString(p.Fields),
					p.Country, p.TransferBasis, partners.RedactURL(p.EndpointURL))
			}
			tw.Flush()
		})
		return nil
	}
}

func (c *command) partnersRotate(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	grace := fs.Duration("grace", 24*time.Hour, "how long the old secret keeps signing")
	return wantArgs(1, "partners rotate-secret ID"), func(ctx context.Context, a *app.App, pos []string) error {
		secret, err := a.Partners.RotateSecret(ctx, operator, pos[0], *grace)
		if err != nil {
			return err
		}
		c.print(map[string]any{"partner_id": pos[0], "webhook_secret": secret, "old_secret_valid_for": grace.String()}, func(w io.Writer) {
			fmt.Fprintf(w, "new webhook secret (shown once): %s\nthe old secret keeps signing for %s\n", secret, *grace)
		})
		return nil
	}
}

func (c *command) partnersSetEnabled(enabled bool) (func([]string) error, func(context.Context, *app.App, []string) error) {
	verb := map[bool]string{true: "enable", false: "disable"}[enabled]
	return wantArgs(1, "partners "+verb+" ID"), func(ctx context.Context, a *app.App, pos []string) error {
		reason := ""
		if !enabled {
			reason = "operator"
		}
		if err := a.Partners.SetEnabled(ctx, operator, pos[0], enabled, reason); err != nil {
			return err
		}
		c.print(map[string]any{"partner_id": pos[0], "enabled": enabled}, func(w io.Writer) {
			fmt.Fprintf(w, "partner %s %sd\n", pos[0], verb)
		})
		return nil
	}
}

func (c *command) keys(ctx context.Context, args []string) error {
	return c.group(ctx, "keys", args, append([]sub{
		{name: "create", creates: true, args: "--role reseller --partner ID | --role finance | --role admin | --role privacy",
			about: "Issue an API key, printed once; only its SHA-256 is stored.", bind: c.keysCreate},
		{name: "list", about: "List every API key record (never the keys).", bind: c.keysList},
		{name: "revoke", args: "ID", about: "Revoke a key at once.", bind: c.keysRevoke},
		{name: "rotate", about: "Add a master key version to the keyring and re-wrap every data key and secret under it, online.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				return wantArgs(0, "keys rotate takes no arguments"), func(ctx context.Context, a *app.App, _ []string) error {
					// A running serve reads the keyring within seconds; the
					// pass after that re-wraps what it wrapped meanwhile.
					res, err := a.Keys.Rotate(ctx, operator, 2*keys.ReloadEvery+time.Second)
					if err != nil {
						return err
					}
					c.print(res, func(w io.Writer) {
						fmt.Fprintf(w, "master key version %d in use; %d data keys and %d secrets re-wrapped in %v\n", res.Version,
							res.Rewrapped, res.Secrets, res.Took.Round(time.Millisecond))
					})
					return nil
				}
			}},
		{name: "rotate-lookup", about: "Make a new lookup key current and every live order's keyed hashes again under it, online; " +
			"the old key is destroyed with the master keys once nothing uses it, so old backups' hashes link nobody.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				return wantArgs(0, "keys rotate-lookup takes no arguments"), func(ctx context.Context, a *app.App, _ []string) error {
					res, err := a.Keys.RotateLookup(ctx, operator, 2*keys.ReloadEvery+time.Second)
					if err != nil {
						return err
					}
					c.print(res, func(w io.Writer) {
						fmt.Fprintf(w, "lookup key version %d in use; %d orders hashed again in %v\n", res.Version, res.Rehashed,
							res.Took.Round(time.Millisecond))
					})
					return nil
				}
			}},
		{name: "prune", about: "Destroy the master key versions (and lookup keys) retired longer than HUSKY_BACKUP_RETENTION that nothing live needs.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				fs.StringVar(&raw.backupRetention, "backup-retention", raw.backupRetention, "how long retired master keys are kept (HUSKY_BACKUP_RETENTION)")
				return wantArgs(0, "keys prune takes no arguments"), func(ctx context.Context, a *app.App, _ []string) error {
					gone, err := a.Keys.Prune(ctx, operator)
					if err != nil {
						return err
					}
					if gone == nil {
						gone = []uint32{}
					}
					c.print(map[string]any{"destroyed": gone, "versions": a.Keyring.Versions(), "lookup_versions_retired": a.Keyring.RetiredLookup()}, func(w io.Writer) {
						fmt.Fprintf(w, "master key versions destroyed: %v; current %d\n", gone, a.Keyring.Current())
					})
					return nil
				}
			}},
	}, c.rootKeySubs()...))
}

func (c *command) keysCreate(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	role := fs.String("role", "", "reseller, finance, admin or privacy (the data-protection officer)")
	partner := fs.String("partner", "", "the reseller a reseller key acts for")
	check := func(pos []string) error {
		if len(pos) != 0 {
			return usageError("keys create takes flags only")
		}
		r, err := partners.ParseRole(*role)
		if err != nil {
			return err
		}
		switch {
		case r == partners.RoleReseller && *partner == "":
			return usageError("a reseller key needs --partner ID")
		case r == partners.RoleReseller:
			// The reseller must exist: a fresh database has none.
			return existingDB(raw.db)
		case *partner != "":
			return usageError("only reseller keys are bound to a partner")
		}
		return nil
	}
	run := func(ctx context.Context, a *app.App, _ []string) error {
		r, _ := partners.ParseRole(*role)
		k, secret, err := a.Partners.CreateKey(ctx, operator, r, *partner)
		if err != nil {
			return err
		}
		c.print(map[string]any{"key": k, "api_key": secret}, func(w io.Writer) {
			fmt.Fprintf(w, "key %s (%s) created\nAPI key (shown once): %s\n", k.ID, k.Role, secret)
		})
		return nil
	}
	return check, run
}

func (c *command) keysList(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	return wantArgs(0, "keys list takes no arguments"), func(ctx context.Context, a *app.App, _ []string) error {
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
		return nil
	}
}

func (c *command) keysRevoke(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	return wantArgs(1, "keys revoke ID"), func(ctx context.Context, a *app.App, pos []string) error {
		if err := a.Partners.RevokeKey(ctx, operator, pos[0]); err != nil {
			return err
		}
		c.print(map[string]any{"key_id": pos[0], "revoked": true}, func(w io.Writer) {
			fmt.Fprintf(w, "key %s revoked\n", pos[0])
		})
		return nil
	}
}
