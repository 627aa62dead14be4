package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/milestone/husky/app"
)

// errAuditFailed makes `husky audit verify` exit non-zero.
var errAuditFailed = errors.New("audit verification failed")

func (c *command) audit(ctx context.Context, args []string) error {
	auditKey := func(fs *flag.FlagSet, raw *rawConfig) {
		fs.StringVar(&raw.auditKey, "audit-key", raw.auditKey, "audit signing key file (HUSKY_AUDIT_KEY)")
	}
	return c.group(ctx, "audit", args, []sub{
		{name: "checkpoint", about: "Sign a checkpoint if the log grew, and print the latest, to keep outside the service.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				auditKey(fs, raw)
				return wantArgs(0, "audit checkpoint takes no arguments"), c.auditCheckpoint
			}},
		{name: "verify", args: "[--checkpoint FILE]",
			about: "Recompute the whole tree, check every stored checkpoint, and prove the log extends an outside one.",
			bind: func(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
				auditKey(fs, raw)
				checkpoint := fs.String("checkpoint", "", "a signed checkpoint kept outside the service, which the log must extend")
				var outside []byte
				check := func(pos []string) error {
					if len(pos) != 0 {
						return usageError("audit verify takes flags only")
					}
					if *checkpoint != "" {
						b, err := os.ReadFile(*checkpoint)
						if err != nil {
							return fmt.Errorf("read checkpoint: %w", err)
						}
						outside = b
					}
					return nil
				}
				return check, func(ctx context.Context, a *app.App, _ []string) error { return c.auditVerify(ctx, a, outside) }
			}},
	})
}

func (c *command) auditCheckpoint(ctx context.Context, a *app.App, _ []string) error {
	cp, err := a.Audit.Checkpoint(ctx)
	if err != nil {
		return err
	}
	c.print(map[string]any{"checkpoint": cp, "verifier_key": a.Audit.Key.Public}, func(w io.Writer) {
		fmt.Fprint(w, cp.Note)
	})
	return nil
}

func (c *command) auditVerify(ctx context.Context, a *app.App, outside []byte) error {
	rep, err := a.Audit.Verify(ctx, outside)
	if err != nil {
		return err
	}
	c.print(rep, func(w io.Writer) {
		if rep.OK {
			fmt.Fprintf(w, "ok: %d entries, root %s, %d signed checkpoints verified", rep.Entries, rep.RootHash, rep.Checkpoints)
			if rep.OutsideVerified {
				fmt.Fprint(w, ", extends the outside checkpoint")
			}
			if rep.Pending > 0 {
				fmt.Fprintf(w, "; %d pending integration (oldest %.1f s)", rep.Pending, rep.OldestPendingSeconds)
			}
			fmt.Fprintln(w)
			return
		}
		if rep.FirstBadEntry != nil {
			fmt.Fprintf(w, "TAMPERED: first bad entry %d\n", *rep.FirstBadEntry)
		} else {
			fmt.Fprintln(w, "TAMPERED")
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	})
	if !rep.OK {
		return errAuditFailed
	}
	return nil
}
