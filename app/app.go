package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/milestone/husky/api"
	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/breaches"
	"github.com/milestone/husky/console"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/keys"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/subjects"
	"github.com/milestone/husky/tracing"
	"github.com/milestone/husky/vault"
)

// App owns the configuration, the database, the HTTP server and the
// background workers. main and the end-to-end tests start the same value.
type App struct {
	Config     Config
	Logger     *slog.Logger
	DB         *store.DB
	Keyring    *keyring.Keyring
	Vault      *vault.Vault
	Registry   *prometheus.Registry
	Audit      *audit.Log
	Partners   *partners.Store
	Orders     *orders.Service
	Outbox     *sharing.Outbox
	Deliveries *sharing.Deliveries
	Dispatcher *sharing.Dispatcher
	Calendar   retention.Calendar
	Reporter   *retention.Reporter
	Holds      *retention.Holds
	Purger     *retention.Purger
	Subjects   *subjects.Service
	Breaches   *breaches.Service
	Reminders  *retention.Reminders
	Keys       *keys.Lifecycle
	Clock      base.Clock

	httpMetrics    *httpMetrics
	consoleMetrics *console.Metrics
	limiter        *api.RateLimiter
	server         *http.Server
	bg             context.Context // lives as long as the workers
	spawned        base.Group      // background work started by requests
}

// spawn runs fn in the background; Run waits for it before returning, so
// the database is not closed under a purge batch.
func (a *App) spawn(fn func()) {
	a.spawned.Go(a.background(), func(context.Context) { fn() })
}

// background is the context work started by a request (a purge run)
// continues in after the request ends.
func (a *App) background() context.Context {
	if a.bg != nil {
		return a.bg
	}
	return context.Background()
}

// NewApp opens and migrates the database and wires the packages together.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*App, error) {
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	ring, key, root, err := openSecrets(ctx, cfg, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	// Every line logged with a request's or a span's context names its
	// trace.
	if _, ok := logger.Handler().(tracing.LogHandler); !ok {
		logger = slog.New(tracing.LogHandler{Handler: logger.Handler()})
	}
	a := &App{Config: cfg, Logger: logger, DB: db, Keyring: ring, Vault: &vault.Vault{DB: db, Keyring: ring}, Clock: time.Now,
		Registry: prometheus.NewRegistry()}
	a.Audit = &audit.Log{DB: db, Clock: a.Clock, Key: key}
	a.Registry.MustRegister(a.Audit.Metrics()...)
	a.Registry.MustRegister(dbMetrics(db.Trips)...)
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.httpMetrics = newHTTPMetrics(a.Registry)
	a.consoleMetrics = console.NewMetrics(a.Registry)
	a.Vault.Refused = vault.NewRefusedCounter()
	a.Registry.MustRegister(a.Vault.Refused)
	a.limiter = api.NewRateLimiter(cfg.RateLimit)

	a.Calendar = retention.Calendar{StartMonth: time.Month(cfg.FiscalYearStart), Location: cfg.FiscalTZ, Years: cfg.RetentionYears}
	a.Partners = &partners.Store{DB: db, Clock: a.Clock, Audit: a.Audit, AllowPrivateEndpoints: cfg.AllowPrivateEndpoints, Sealer: ring}
	a.Outbox = sharing.NewOutbox(a.Partners, a.Audit, a.Clock)
	a.Orders = &orders.Service{DB: db, Batch: store.NewBatcher(db), Clock: a.Clock, Audit: a.Audit, Hooks: []orders.Hook{a.Outbox},
		AfterCommit: a.afterOrderChange, SharedWith: sharing.SharedWith, ErasureNoticeSent: sharing.ErasureNoticeSent,
		Retention: a.Calendar.PurgeAfter, PartnerKind: a.partnerKind, Hash: ring.Hash, Vault: a.Vault,
		LookupVersion: ring.LookupVersion, Hashes: ring.Hashes, Rehashed: a.rehashed}
	a.Deliveries = &sharing.Deliveries{DB: db, Clock: a.Clock, Audit: a.Audit, Kick: a.Outbox.Kick}
	a.Dispatcher = &sharing.Dispatcher{
		DB: db, Partners: a.Partners, Audit: a.Audit, Lifecycle: a.Orders, Vault: a.Vault,
		Client:           sharing.NewClient(cfg.AllowPrivateEndpoints, cfg.DeliveryWorkers),
		Schedule:         cfg.RetrySchedule,
		Wake:             a.Outbox.Kicked(),
		Workers:          cfg.DeliveryWorkers,
		Timeout:          cfg.DeliveryTimeout,
		FailingThreshold: cfg.DisableAfter,
		Clock:            a.Clock,
		Logger:           logger,
		Metrics:          sharing.NewMetrics(a.Registry),
	}
	a.Holds = &retention.Holds{DB: db, Orders: a.Orders, Vault: a.Vault, Audit: a.Audit, Clock: a.Clock}
	a.Subjects = &subjects.Service{DB: db, Orders: a.Orders, Holds: a.Holds, Sharing: a.Outbox, Disclosures: a.Deliveries, Partners: a.Partners,
		Audit: a.Audit, Clock: a.Clock, Location: a.Calendar.Location, Retention: subjects.RetentionRule(a.Calendar), Setup: processingSetup(cfg),
		RequestRetention: cfg.RequestRetentionYears}
	a.Registry.MustRegister(subjects.Collector{Service: a.Subjects})
	a.Breaches = &breaches.Service{DB: db, Orders: a.Orders, Disclosures: a.Deliveries, Partners: a.Partners, Audit: a.Audit,
		Clock: a.Clock, Controller: breachController(cfg)}
	a.Registry.MustRegister(breaches.Collector{Service: a.Breaches})
	a.Reporter = &retention.Reporter{Orders: a.Orders, Holds: a.Holds, Calendar: a.Calendar, Requests: a.Subjects}
	a.Purger = &retention.Purger{DB: db, Orders: a.Orders, Holds: a.Holds, Calendar: a.Calendar, Outbox: a.Outbox, Deliveries: a.Deliveries, Audit: a.Audit,
		Clock: a.Clock, Logger: logger, Requests: a.Subjects}
	a.Reminders = &retention.Reminders{Orders: a.Orders, Outbox: a.Outbox, Deliveries: a.Deliveries, Schedule: cfg.ErasureReminders,
		Clock: a.Clock, Sent: retention.NewRemindersCounter()}
	a.Registry.MustRegister(a.Reminders.Sent)
	a.Keys = &keys.Lifecycle{DB: db, Keyring: ring, Vault: a.Vault, Partners: a.Partners, Orders: a.Orders, Deliveries: a.Deliveries,
		Outbox: a.Outbox, Holds: a.Holds, Subjects: a.Subjects, Audit: a.Audit, Clock: a.Clock, Logger: logger,
		Root: root, KeyringPath: keyringName(cfg), Rotation: cfg.KeyRotation, BackupRetention: cfg.BackupRetention,
		Refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "husky_keyring_reload_refused_total",
			Help: "Keyring files refused on reload because they are not this keyring (another identity, or a changed key)."})}
	a.Registry.MustRegister(a.Keys.Refused)
	a.registerBacklogGauges()
	if err := a.sealSecrets(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.Keys.Check(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := a.Keys.SealPlaintext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if n, err := a.Orders.BindSealed(ctx); err != nil {
		db.Close()
		return nil, err
	} else if n > 0 {
		a.Logger.Info("recipients' answers and timelines sealed bound to their owner", "orders", n)
	}
	return a, nil
}

// rehashed tells the packages that hold keyed hashes which ones orders made
// again under a new lookup key, inside the re-hash's transaction.
func (a *App) rehashed(ctx context.Context, tx *store.Tx, changed map[string][]byte, version uint32) error {
	if err := a.Subjects.TranslateHashes(ctx, tx, changed, version); err != nil {
		return err
	}
	return a.Outbox.TranslateHashes(ctx, tx, changed, version)
}

// sealSecrets encrypts webhook secrets a database from before the keyring
// holds in plain text, then clears the write-ahead log, whose old pages
// would still show them.
func (a *App) sealSecrets(ctx context.Context) error {
	n, err := a.Partners.SealPlaintextSecrets(ctx)
	if err != nil || n == 0 {
		return err
	}
	a.Logger.Info("webhook secrets encrypted with the keyring", "count", n, "keyring", a.Config.Keyring)
	return a.DB.Checkpoint(ctx)
}

// afterOrderChange runs after an order change commits: it wakes the
// dispatcher, and when the order may have closed, decides an erasure a
// data-subject request scheduled for it.
func (a *App) afterOrderChange(ch orders.Change) {
	a.Outbox.Kick()
	if ch.Order == nil || ch.Kind == orders.ChangeCreated || a.Subjects == nil {
		return
	}
	id := ch.Order.ID
	a.spawn(func() {
		if _, err := a.Subjects.Sweep(a.background(), id); err != nil && a.background().Err() == nil {
			a.Logger.Error("scheduled erasure", "order_id", id, "error", err.Error())
		}
	})
}

// legalHold gives the operator's order view its legal hold, or nil.
func (a *App) legalHold(ctx context.Context, orderID string) (any, error) {
	h, err := a.Holds.Get(ctx, orderID)
	if h == nil || err != nil {
		return nil, err
	}
	return h, nil
}

// partnerKind tells the orders package a partner's kind, for imports.
func (a *App) partnerKind(ctx context.Context, id string) (string, error) {
	p, err := a.Partners.Get(ctx, id)
	return string(p.Kind), err
}

// registerBacklogGauges exposes the outbox backlog. One query serves both
// gauges, and its answer is reused for a second, since counting a large
// backlog is not free and scrapes can come often.
func (a *App) registerBacklogGauges() {
	var (
		mu     sync.Mutex
		at     time.Time
		n      int
		oldest time.Time
	)
	backlog := func() (int, time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < time.Second {
			return n, oldest
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, o, err := a.Deliveries.Backlog(ctx)
		if err != nil {
			return n, oldest
		}
		n, oldest, at = c, o, time.Now()
		return n, oldest
	}
	a.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "husky_delivery_backlog", Help: "Deliveries pending."},
			func() float64 { n, _ := backlog(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "husky_delivery_oldest_due_age_seconds", Help: "How long the oldest pending delivery has been due (0 if none is due)."},
			func() float64 {
				_, oldest := backlog()
				if oldest.IsZero() || oldest.After(a.Clock.Now()) {
					return 0
				}
				return a.Clock.Now().Sub(oldest).Seconds()
			}),
	)
}

// Run serves HTTP on ln (or on Config.Addr when ln is nil) and runs the
// dispatcher until ctx is cancelled. Then it stops taking requests, lets
// in-flight requests and deliveries finish, and returns.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.Config.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", a.Config.Addr, err)
		}
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	a.bg = workCtx
	a.server = a.httpServer(a.Handler())
	errc := make(chan error, 1)
	if a.Config.TLSCert != "" {
		go func() { errc <- a.server.ServeTLS(ln, a.Config.TLSCert, a.Config.TLSKey) }()
	} else {
		go func() { errc <- a.server.Serve(ln) }()
	}
	// The database as store shows it: a PostgreSQL URL without its password.
	a.Logger.Info("serving", "addr", ln.Addr().String(), "db", a.DB.Path, "tls", a.Config.TLSCert != "")
	for _, w := range a.DB.Warnings(ctx) {
		a.Logger.Warn(w)
	}
	if a.Config.PprofAddr != "" {
		stopPprof, err := a.servePprof()
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	// Every process reloads a keyring another changed (a rotation or
	// prune from the CLI, or by the leader) and delivers; one, the leader,
	// runs what must run once.
	workers := base.Group{Logger: a.Logger}
	workers.Loop(workCtx, base.Loop{Name: "reload keyring", Every: keys.ReloadEvery, Wait: true,
		Run: func(context.Context) error { a.Keys.Reload(); return nil }})
	workers.Go(workCtx, func(ctx context.Context) { _ = a.Dispatcher.Run(ctx) })
	workers.Go(workCtx, func(ctx context.Context) { base.Lead(ctx, a.DB, a.Logger, a.lead) })

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.server.Shutdown(sctx); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("shutdown: %w", err))
	}
	stopWork()
	workers.Wait()
	a.spawned.Wait()
	// A last checkpoint covers everything this run appended (another
	// process may have signed that size already).
	if _, err := a.Audit.Checkpoint(context.Background()); err != nil && !store.IsUniqueViolation(err) {
		serveErr = errors.Join(serveErr, fmt.Errorf("final audit checkpoint: %w", err))
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// httpServer returns a server for h with the timeouts every listener of
// the service has, so that no slow client holds a connection forever.
func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
}

// tlsConfig is what serve offers when it speaks HTTPS: TLS 1.2 and 1.3,
// and with 1.2 only AEAD cipher suites with forward secrecy (no CBC, no
// SHA-1 MACs, no RSA key exchange); TLS 1.3 offers nothing else.
func tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// servePprof serves Go's profiler on the configured loopback address,
// apart from the API, and returns the function that stops it. A profile
// takes up to its ?seconds=, so the write timeout leaves room for 50 s.
func (a *App) servePprof() (func(), error) {
	ln, err := net.Listen("tcp", a.Config.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for pprof on %s: %w", a.Config.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := a.httpServer(mux)
	go func() { _ = srv.Serve(ln) }()
	a.Logger.Info("serving pprof", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// lead is the leader's work, until ctx ends: any purge a crash
// interrupted, then the daily purge; every minute, the purge runs nobody
// carries; at start and every hour, an audit checkpoint, the master keys'
// rotation and pruning, and housekeeping: expired idempotency keys, the
// erasures scheduled for orders that closed, erasure reminders, and the
// orders whose sharing completed unnoticed (a crash between the
// dispatcher's commit and orders').
func (a *App) lead(ctx context.Context) {
	g := base.Group{Logger: a.Logger}
	g.Go(ctx, a.purges)
	every := func(name string, d time.Duration, wait bool, run func(context.Context) (int, error), done string) {
		g.Loop(ctx, base.Loop{Name: name, Every: d, Wait: wait, Run: func(ctx context.Context) error {
			n, err := run(ctx)
			if err == nil && n > 0 {
				a.Logger.Info(done, "count", n)
			}
			return err
		}})
	}
	every("resume purge", orphanedPurgeCheck, true, func(ctx context.Context) (int, error) {
		return 0, a.Purger.ResumeInterrupted(ctx)
	}, "")
	every("reconcile shared orders", time.Hour, false, a.ReconcileShared, "orders moved to shared after a restart")
	every("purge idempotency keys", time.Hour, false, func(ctx context.Context) (int, error) {
		n, err := a.Orders.PurgeExpiredIdempotencyKeys(ctx)
		return int(n), err
	}, "purged expired idempotency keys")
	every("scheduled erasures", time.Hour, false, func(ctx context.Context) (int, error) { return a.Subjects.Sweep(ctx, "") },
		"scheduled erasures decided")
	every("erasure reminders", time.Hour, false, a.Reminders.Run, "erasure notices sent again, unconfirmed")
	g.Loop(ctx, a.Audit.Integrator())
	g.Loop(ctx, base.Loop{Name: "audit checkpoint", Every: time.Hour, Run: func(ctx context.Context) error {
		cp, err := a.Audit.Checkpoint(ctx)
		if err == nil {
			a.Logger.Info("audit checkpoint", "tree_size", cp.TreeSize, "root_hash", cp.RootHash)
		}
		return err
	}})
	g.Loop(ctx, a.Keys.Maintenance())
	g.Wait()
}

// ReconcileShared moves every "received" order whose order.created
// deliveries have all arrived to "shared", 500 orders at a time, and
// returns how many it moved.
func (a *App) ReconcileShared(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		ids, err := a.Orders.Received(ctx, after, 500)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		done, err := a.Deliveries.AllDelivered(ctx, ids)
		if err != nil {
			return n, err
		}
		if err := a.Orders.MarkShared(ctx, done); err != nil {
			return n, err
		}
		n += len(done)
		after = ids[len(ids)-1]
	}
}

// purges resumes any purge a crash interrupted, then runs the daily purge.
func (a *App) purges(ctx context.Context) {
	a.resumePurges(ctx)
	if a.Config.PurgeDaily >= 0 {
		a.Purger.Daily(ctx, a.Calendar, a.Config.PurgeDaily)
	}
}

// orphanedPurgeCheck is how often the leader looks for purge runs nobody
// carries.
const orphanedPurgeCheck = time.Minute

func (a *App) resumePurges(ctx context.Context) {
	if err := a.Purger.ResumeInterrupted(ctx); err != nil && ctx.Err() == nil {
		a.Logger.Error("resume purge", "error", err.Error())
	}
}

// Close integrates the audit entries still pending (a command has no
// leader's loop to do it; failing that, the leader's integrator will) and
// closes the database, checkpointing its write-ahead log.
func (a *App) Close() error {
	if a.Audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := a.Audit.IntegrateAll(ctx); err != nil && a.Logger != nil {
			a.Logger.Warn("audit integration at close", "error", err.Error())
		}
	}
	return a.DB.Close()
}
