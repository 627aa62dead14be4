package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// errAuditFailed makes `husky audit verify` exit non-zero.
var errAuditFailed = errors.New("audit verification failed")

func (c *command) audit(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("audit needs a subcommand: verify, checkpoint")
	}
	raw := envConfig()
	fs := c.flags("audit "+args[0], &raw, false)
	fs.StringVar(&raw.auditKey, "audit-key", raw.auditKey, "audit signing key file (HUSKY_AUDIT_KEY)")
	checkpoint := fs.String("checkpoint", "", "a signed checkpoint kept outside the service, which the log must extend")
	a, _, err := c.parseAndOpen(ctx, fs, &raw, args[1:])
	if err != nil {
		return err
	}
	defer a.Close()
	switch args[0] {
	case "checkpoint":
		cp, err := a.Audit.Checkpoint(ctx)
		if err != nil {
			return err
		}
		c.print(map[string]any{"checkpoint": cp, "verifier_key": a.Audit.Key.Public}, func(w io.Writer) {
			fmt.Fprint(w, cp.Note)
		})
	case "verify":
		var outside []byte
		if *checkpoint != "" {
			if outside, err = os.ReadFile(*checkpoint); err != nil {
				return fmt.Errorf("read checkpoint: %w", err)
			}
		}
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
	default:
		return usageError("unknown audit subcommand %q", args[0])
	}
	return nil
}
