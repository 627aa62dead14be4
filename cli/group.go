package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/milestone/husky/app"
	"github.com/milestone/husky/store"
)

// sub is one subcommand of a command group (`husky partners add`).
type sub struct {
	name  string
	args  string // what follows the name in its usage line
	about string
	// creates: the subcommand may create the database (partners add,
	// keys create); every other one needs an existing database, so a
	// mistyped HUSKY_DB never leaves an empty database behind.
	creates bool
	// bind registers the subcommand's own flags on fs and returns the
	// check of its arguments, run before anything is opened, and what it
	// does with the app. check may be nil.
	bind func(fs *flag.FlagSet, raw *rawConfig) (check func(pos []string) error, run func(ctx context.Context, a *app.App, pos []string) error)
	// bare, in place of bind, is a subcommand that does not open the app
	// (husky keys init-root, import): run gets the settings as given.
	bare func(fs *flag.FlagSet, raw *rawConfig) (check func(pos []string) error, run func(ctx context.Context, raw rawConfig, pos []string) error)
}

// group runs `husky NAME SUB [flags] [args]`: "-h" alone lists the
// subcommands, SUB -h prints its usage; both exit 0. Arguments are checked
// before the database, the audit key or the keyring is opened, so a
// command that fails on them writes nothing.
func (c *command) group(ctx context.Context, name string, args []string, subs []sub) error {
	if len(args) == 0 || isHelp(args[0]) {
		c.groupUsage(c.stdout, name, subs)
		if len(args) == 0 {
			return usageError("%s needs a subcommand", name)
		}
		return nil
	}
	var s *sub
	for i := range subs {
		if subs[i].name == args[0] {
			s = &subs[i]
		}
	}
	if s == nil {
		c.groupUsage(c.stderr, name, subs)
		return usageError("unknown %s subcommand %q", name, args[0])
	}
	raw := envConfig(os.Getenv)
	fs := c.flags(name+" "+s.name, &raw, false)
	var (
		check   func([]string) error
		run     func(context.Context, *app.App, []string) error
		runBare func(context.Context, rawConfig, []string) error
	)
	if s.bare != nil {
		check, runBare = s.bare(fs, &raw)
	} else {
		check, run = s.bind(fs, &raw)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: husky %s %s %s\n\n%s\n\nFlags:\n", name, s.name, s.args, s.about)
		fs.PrintDefaults()
	}
	pos, err := c.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if check != nil {
		if err := check(pos); err != nil {
			return err
		}
	}
	if runBare != nil {
		return runBare(ctx, raw, pos)
	}
	cfg, err := raw.config()
	if err != nil {
		return err
	}
	if !s.creates {
		if err := existingDB(cfg.DB); err != nil {
			return err
		}
	}
	a, err := app.New(ctx, cfg, c.logger(cfg))
	if err != nil {
		return err
	}
	defer a.Close()
	return run(ctx, a, pos)
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" || s == "help" }

func (c *command) groupUsage(w io.Writer, name string, subs []sub) {
	fmt.Fprintf(w, "Usage:\n")
	for _, s := range subs {
		fmt.Fprintf(w, "  husky %s %s %s\n      %s\n", name, s.name, s.args, s.about)
	}
	fmt.Fprintf(w, "\nRun \"husky %s SUBCOMMAND -h\" for its flags.\n", name)
}

// parse parses fs's flags wherever they stand among args and returns the
// positional arguments. -h prints the usage on stdout and returns
// flag.ErrHelp (exit 0); a bad flag prints the error and the usage on
// stderr.
func (c *command) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	pos, err := parseAll(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(c.stdout)
		fs.Usage()
		return nil, err
	case err != nil:
		fs.SetOutput(c.stderr)
		fmt.Fprintf(c.stderr, "husky: %v\n", err)
		fs.Usage()
		return nil, fmt.Errorf("%w: %v", errUsageShown, err)
	}
	return pos, nil
}

// errUsageShown is a usage error whose message was already printed.
var errUsageShown = errors.New("usage")

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

// existingDB fails when the database file does not exist. A PostgreSQL
// database is the server's to create: it is never created by accident.
func existingDB(path string) error {
	if store.IsURL(path) {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no database at %s (HUSKY_DB or --db): run `husky migrate` or `husky partners add` first", path)
	}
	return nil
}

// wantArgs returns a check that there are exactly n positional arguments,
// named by what in the error.
func wantArgs(n int, what string) func(pos []string) error {
	return func(pos []string) error {
		if len(pos) != n {
			return usageError("%s", what)
		}
		return nil
	}
}

// oneOf reports whether s is one of the allowed words.
func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// joinWords renders allowed words for an error ("json or csv").
func joinWords(ws ...string) string {
	if len(ws) < 2 {
		return strings.Join(ws, "")
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " or " + ws[len(ws)-1]
}
