// Package cli is husky's command line: `husky serve` and the operators'
// commands. Each command parses its flags and the HUSKY_* settings into
// one app.Config, opens the app.App they describe, calls the packages'
// services and prints what they return; every rule lives in the packages.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"golang.org/x/mod/module"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/app"
	"github.com/milestone/husky/tracing"
)

const usage = `husky — Husky order fulfilment and partner data-sharing service

Usage:
  husky serve [--demo] [flags]        run the API, the console and the delivery workers
  husky migrate                       apply database migrations
  husky partners add --kind reseller|logistics|manufacturer --name NAME [--endpoint URL] [--fields phone,email,address]
                      [--country CC] [--transfer-basis eea|adequacy|scc|bcr]
  husky partners list
  husky partners rotate-secret ID [--grace 24h]
  husky partners enable|disable ID
  husky keys create --role reseller --partner ID | --role finance | --role admin | --role privacy
  husky keys list
  husky keys revoke ID
  husky keys rotate | prune          add a master key version and re-wrap every data key under it; destroy retired ones
  husky keys rotate-lookup           a new lookup key, every live order's keyed hashes made again under it
  husky keys init-root FILE | rotate-root [FILE] | prune-root | import
                                      the root key that seals the keyring and the audit key kept in the database
  husky backup FILE                   an online, consistent copy of the database (sealed like the database)
  husky deliveries list [--status pending|delivered|dead] [--order ID]
  husky deliveries replay ID | --since TIME
  husky orders import FILE [--skip-invalid]
  husky orders hold ID --reason TEXT | husky orders release ID
  husky orders close ID --as cancelled|delivered [--at TIME] --reason TEXT
  husky orders conflicts              recipient events that contradict the order (shipped after cancel)
  husky purge report [--as-of DATE] [--format csv|json]
  husky purge run
  husky purge show RUN_ID [--format csv|json]
  husky audit checkpoint              sign and print the latest checkpoint, to keep outside the service
  husky audit verify [--checkpoint FILE]
  husky subjects request --type access|rectification|erasure|restriction|objection --email E [--phone P]
  husky subjects list [--open] | show ID | export ID [--format json|html]
  husky subjects rectify ID --file CHANGES.json | erase|restrict|lift|complete ID
  husky privacy record [--format json|markdown]   the record of processing (Art. 30)
  husky breaches open --where service|PARTNER_ID,… --from TIME --aware-at TIME --description TEXT
  husky breaches list | show ID [--recompute] [--format json|html] | notified ID [--late-reason TEXT]

  husky --version | version          the build: module version, commit, Go release

Every command takes --db FILE|URL (HUSKY_DB: a SQLite file, or a postgres:// URL) and prints JSON
with --json. Tracing is set by the standard OTEL_* variables (docs/operations.md).
Run "husky COMMAND -h" for a command's subcommands and flags.
`

// Run executes one command and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		fmt.Fprintln(stdout, version())
		return 0
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdown, err := tracing.Setup(ctx, version(), stderr)
	if err != nil {
		fmt.Fprintf(stderr, "husky: %v\n", err)
		return 2
	}
	defer func() {
		// The last spans are sent before the process ends, or given up.
		flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdown(flush)
	}()
	cmd := &command{stdin: os.Stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "serve":
		err = cmd.serve(ctx, args[1:])
	case "migrate":
		err = cmd.migrate(ctx, args[1:])
	case "partners":
		err = cmd.partners(ctx, args[1:])
	case "keys":
		err = cmd.keys(ctx, args[1:])
	case "deliveries":
		err = cmd.deliveries(ctx, args[1:])
	case "audit":
		err = cmd.audit(ctx, args[1:])
	case "orders":
		err = cmd.orders(ctx, args[1:])
	case "purge":
		err = cmd.purge(ctx, args[1:])
	case "subjects":
		err = cmd.subjects(ctx, args[1:])
	case "privacy":
		err = cmd.privacy(ctx, args[1:])
	case "breaches":
		err = cmd.breaches(ctx, args[1:])
	case "backup":
		err = cmd.backup(ctx, args[1:])
	default:
		fmt.Fprintf(stderr, "husky: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errAuditFailed):
		return 1
	case errors.Is(err, errUsageShown):
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "husky: %v\n", err)
		return 2
	}
	var pe *api.Error
	if errors.As(err, &pe) {
		fmt.Fprintf(stderr, "husky: %s\n", pe.Detail)
		return 1
	}
	fmt.Fprintf(stderr, "husky: %v\n", err)
	return 1
}

// version says which build this is: its release tag when built from one,
// the commit it was built from (and whether the tree had changes), and the
// Go release.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "husky (unknown build) " + runtime.Version()
	}
	out := "husky"
	if v := info.Main.Version; v != "" && v != "(devel)" && !module.IsPseudoVersion(strings.TrimSuffix(v, "+dirty")) {
		out += " " + v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case len(rev) >= 12:
		out += " commit " + rev[:12]
		if dirty {
			out += " with local changes"
		}
	default:
		out += " (built without version control information)"
	}
	return out + " " + runtime.Version()
}

var errUsage = errors.New("usage")

func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// command carries what every subcommand shares: where it writes, and
// whether it writes JSON.
type command struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	json           bool
}

// flags returns a flag set bound to the common settings (--db, --json).
func (c *command) flags(name string, raw *rawConfig, all bool) *flag.FlagSet {
	fs := flag.NewFlagSet("husky "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	raw.bind(fs, all)
	fs.BoolVar(&c.json, "json", false, "print JSON")
	return fs
}

// logger builds the one slog logger: JSON unless stderr is a terminal or
// the configuration asks for text.
func (c *command) logger(cfg app.Config) *slog.Logger {
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := c.stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(c.stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(c.stderr, nil))
}

// print writes v as indented JSON with --json, or text otherwise.
func (c *command) print(v any, text func(w io.Writer)) {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
		return
	}
	text(c.stdout)
}

func (c *command) backup(ctx context.Context, args []string) error {
	raw := envConfig(os.Getenv)
	fs := c.flags("backup", &raw, false)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: husky backup FILE\n\nWrite an online, consistent copy of the database to FILE (a new file, owner-only).\n"+
			"Its personal data is sealed: keep the keyring apart from it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("backup FILE")
	}
	cfg, err := raw.config()
	if err != nil {
		return err
	}
	if err := existingDB(cfg.DB); err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, c.logger(cfg))
	if err != nil {
		return err
	}
	defer a.Close()
	n, err := a.DB.Backup(ctx, pos[0])
	if err != nil {
		return err
	}
	c.print(map[string]any{"file": pos[0], "bytes": n}, func(w io.Writer) {
		if cfg.RootKeyFile != "" {
			fmt.Fprintf(w, "%s: %d bytes; it holds the keyring sealed by the root key (%s): keep the root key apart from it\n", pos[0], n, cfg.RootKeyFile)
			return
		}
		fmt.Fprintf(w, "%s: %d bytes; keep the keyring (%s) apart from it\n", pos[0], n, cfg.Keyring)
	})
	return nil
}

func (c *command) migrate(ctx context.Context, args []string) error {
	raw := envConfig(os.Getenv)
	fs := c.flags("migrate", &raw, false)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: husky migrate\n\nCreate the database if needed and apply every migration not yet applied.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if pos, err := c.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError("migrate takes no arguments")
	}
	cfg, err := raw.config()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, c.logger(cfg))
	if err != nil {
		return err
	}
	defer a.Close()
	v, err := a.DB.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	c.print(map[string]any{"db": a.DB.Path, "version": v}, func(w io.Writer) {
		fmt.Fprintf(w, "%s: schema at version %d\n", a.DB.Path, v)
	})
	return nil
}

func (c *command) serve(ctx context.Context, args []string) error {
	raw := envConfig(os.Getenv)
	fs := c.flags("serve", &raw, true)
	demo := fs.Bool("demo", false, "add a demo reseller key and two in-process demo recipients")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: husky serve [--demo] [flags]\n\nServe the API and the console, and deliver webhooks. Every flag overrides its HUSKY_ variable.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if pos, err := c.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError("serve takes flags only")
	}
	cfg, err := raw.config()
	if err != nil {
		return err
	}
	cfg.Demo = *demo
	if cfg.Demo {
		// The demo recipients listen on loopback.
		cfg.AllowPrivateEndpoints = true
	}
	TuneGC()
	a, err := app.New(ctx, cfg, c.logger(cfg))
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.CheckDemoMode(ctx, cfg.Demo); err != nil {
		return err
	}
	if cfg.Demo {
		if err := a.StartDemo(ctx, c.stdout); err != nil {
			return err
		}
	}
	return a.Run(ctx, nil)
}

// TuneGC sets the garbage collector for serve where the operator has not
// (GOGC, GOMEMLIMIT): a heap up to five times the live one, under a soft
// ceiling of 256 MiB. Collection was about a tenth of delivery's CPU.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}
