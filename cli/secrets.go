package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/keyring"
)

// The root key's subcommands of `husky keys`: the file an operator
// creates once and copies to every instance, its rotation and pruning,
// and moving a file keyring into the database.

func (c *command) rootKeySubs() []sub {
	return []sub{
		{name: "init-root", args: "FILE", about: "Create a root key file (owner-only); give every instance a copy and set HUSKY_ROOT_KEY_FILE to it: " +
			"the keyring and the audit key are then kept in the database, sealed by it.", bare: c.keysInitRoot},
		{name: "rotate-root", args: "[FILE]", about: "Add a root key version to FILE (default HUSKY_ROOT_KEY_FILE); copy the file to every instance, " +
			"which seal with it from their next read (within seconds).", bare: c.keysRotateRoot},
		{name: "prune-root", about: "Seal every secret under the newest root key version, then destroy from HUSKY_ROOT_KEY_FILE the versions " +
			"retired longer than HUSKY_BACKUP_RETENTION: backups older than that can no longer open their keyring.", bind: c.keysPruneRoot},
		{name: "import", about: "Move the keyring file (HUSKY_KEYRING) and the audit key file (HUSKY_AUDIT_KEY) into the database, " +
			"sealed by the root key (HUSKY_ROOT_KEY_FILE).", creates: true, bare: c.keysImport},
	}
}

func (c *command) keysInitRoot(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, rawConfig, []string) error) {
	return wantArgs(1, "keys init-root FILE"), func(_ context.Context, _ rawConfig, pos []string) error {
		if err := keyring.InitRoot(pos[0]); err != nil {
			return err
		}
		c.print(map[string]any{"root_key_file": pos[0], "version": 1}, func(w io.Writer) {
			fmt.Fprintf(w, "root key created in %s (mode 0600): copy it to every instance and set HUSKY_ROOT_KEY_FILE; "+
				"without it the database's keys cannot be opened\n", pos[0])
		})
		return nil
	}
}

func (c *command) keysRotateRoot(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, rawConfig, []string) error) {
	check := func(pos []string) error {
		if len(pos) > 1 || (len(pos) == 0 && raw.rootKeyFile == "") {
			return usageError("keys rotate-root [FILE]: name the root key file, or set HUSKY_ROOT_KEY_FILE")
		}
		return nil
	}
	return check, func(_ context.Context, raw rawConfig, pos []string) error {
		path := raw.rootKeyFile
		if len(pos) == 1 {
			path = pos[0]
		}
		v, err := keyring.RotateRoot(path, time.Now())
		if err != nil {
			return err
		}
		c.print(map[string]any{"root_key_file": path, "version": v}, func(w io.Writer) {
			fmt.Fprintf(w, "root key version %d added to %s: copy the file to every instance; the leader seals the keys under it within the hour\n", v, path)
		})
		return nil
	}
}

func (c *command) keysPruneRoot(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, *app.App, []string) error) {
	fs.StringVar(&raw.backupRetention, "backup-retention", raw.backupRetention, "how long retired keys are kept (HUSKY_BACKUP_RETENTION)")
	check := func(pos []string) error {
		if len(pos) != 0 {
			return usageError("keys prune-root takes no arguments")
		}
		if raw.rootKeyFile == "" {
			return usageError("keys prune-root: set HUSKY_ROOT_KEY_FILE (the keyring is not in the database)")
		}
		return nil
	}
	return check, func(ctx context.Context, a *app.App, _ []string) error {
		gone, err := a.Keys.PruneRoot(ctx, operator)
		if err != nil {
			return err
		}
		if gone == nil {
			gone = []uint32{}
		}
		c.print(map[string]any{"destroyed": gone, "versions": a.Keys.Root.Versions()}, func(w io.Writer) {
			fmt.Fprintf(w, "root key versions destroyed: %v; current %d. Copy %s to every instance, and destroy the old copies\n",
				gone, a.Keys.Root.Current(), a.Keys.Root.Path())
		})
		return nil
	}
}

func (c *command) keysImport(fs *flag.FlagSet, raw *rawConfig) (func([]string) error, func(context.Context, rawConfig, []string) error) {
	fs.StringVar(&raw.auditKey, "audit-key", raw.auditKey, "audit signing key file to import (HUSKY_AUDIT_KEY)")
	return wantArgs(0, "keys import takes no arguments"), func(ctx context.Context, raw rawConfig, _ []string) error {
		if raw.rootKeyFile == "" {
			return usageError("keys import: set HUSKY_ROOT_KEY_FILE to the root key to seal the keys with")
		}
		cfg, err := raw.config()
		if err != nil {
			return err
		}
		if err := existingDB(cfg.DB); err != nil {
			return err
		}
		res, err := app.ImportSecrets(ctx, cfg)
		if err != nil {
			return err
		}
		c.print(res, func(w io.Writer) {
			fmt.Fprintf(w, "keyring %s in the database (imported now: %v), audit key (imported now: %v). Unset HUSKY_KEYRING and HUSKY_AUDIT_KEY; "+
				"keep the two files offline for HUSKY_BACKUP_RETENTION, then destroy them\n", res.ID, res.Keyring, res.AuditKey)
		})
		return nil
	}
}
