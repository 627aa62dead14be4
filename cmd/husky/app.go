package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/sqlite"
)

// App owns the configuration, the database, the HTTP server and the
// background workers. main and the end-to-end tests start the same value.
type App struct {
	Config   Config
	Logger   *slog.Logger
	DB       *sqlite.DB
	Partners *partners.Store
	Orders   *orders.Service
	Now      func() time.Time

	server *http.Server
}

// NewApp opens and migrates the database and wires the packages together.
func NewApp(ctx context.Context, cfg Config, logger *slog.Logger) (*App, error) {
	db, err := sqlite.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a := &App{Config: cfg, Logger: logger, DB: db, Now: time.Now}
	a.Partners = &partners.Store{DB: db, Now: a.Now, AllowPrivateEndpoints: cfg.AllowPrivateEndpoints}
	a.Orders = &orders.Service{DB: db, Now: a.Now}
	return a, nil
}

// Run serves HTTP on ln (or on Config.Addr when ln is nil) until ctx is
// cancelled, then lets in-flight requests finish and returns.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.Config.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", a.Config.Addr, err)
		}
	}
	a.server = &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- a.server.Serve(ln) }()
	a.Logger.Info("serving", "addr", ln.Addr().String(), "db", a.Config.DB)

	go a.housekeeping(ctx)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.server.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// housekeeping removes expired idempotency keys every hour.
func (a *App) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := a.Orders.PurgeExpiredIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Error("purge idempotency keys", "error", err.Error())
		} else if n > 0 {
			a.Logger.Info("purged expired idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close closes the database, checkpointing its write-ahead log.
func (a *App) Close() error {
	return a.DB.Close()
}
