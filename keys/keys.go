// Package keys runs the lifecycle of the master keys and the lookup keys
// across the packages that hold what they protect: the check at start that
// the keyring opens everything the database holds, sealing what an older
// database holds in plain text, rotation and re-wrapping online, pruning
// retired versions past the backup retention, reading a keyring another
// process changed, and the leader's maintenance loop.
package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/milestone/husky/audit"
	"github.com/milestone/husky/base"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/orders"
	"github.com/milestone/husky/partners"
	"github.com/milestone/husky/retention"
	"github.com/milestone/husky/sharing"
	"github.com/milestone/husky/store"
	"github.com/milestone/husky/subjects"
	"github.com/milestone/husky/tracing"
	"github.com/milestone/husky/vault"
)

// Lifecycle holds the keyring and the services whose data it protects.
type Lifecycle struct {
	DB         *store.DB
	Keyring    *keyring.Keyring
	Vault      *vault.Vault
	Partners   *partners.Store
	Orders     *orders.Service
	Deliveries *sharing.Deliveries
	Outbox     *sharing.Outbox
	Holds      *retention.Holds
	Subjects   *subjects.Service
	Audit      audit.Recorder
	Clock      base.Clock
	Logger     *slog.Logger
	// Root is the root key that seals the keyring and the audit key in
	// the database (HUSKY_ROOT_KEY_FILE), nil when they are files.
	Root *keyring.Root
	// KeyringPath names the keyring in messages (HUSKY_KEYRING).
	KeyringPath string
	// Rotation is the age after which the leader rotates the master key
	// (HUSKY_KEY_ROTATION; 0: never); BackupRetention how long a retired
	// version is kept for the backups it opens (HUSKY_BACKUP_RETENTION).
	Rotation, BackupRetention time.Duration
	// Refused counts keyring files refused on reload
	// (husky_keyring_reload_refused_total).
	Refused prometheus.Counter
}

// The master keys' lifecycle: what the database needs of the keyring at
// start, sealing what an older database holds in plain text, rotation,
// pruning, and backups.

// Check refuses a keyring that cannot open what the database holds:
// without the master key that wrapped a data key, that order's personal
// data is lost, and starting would hide it until the first read failed.
// Every data key is opened, a thousand at a time, not a sample of them.
func (l *Lifecycle) Check(ctx context.Context) error {
	keys, err := l.Vault.Check(ctx, l.DB.Reader, 1000)
	if err != nil {
		return err
	}
	badSecrets, err := l.Partners.CheckSecrets(ctx)
	if err != nil {
		return err
	}
	if keys.Bad == 0 && len(badSecrets) == 0 {
		return nil
	}
	var missing []string
	for _, v := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(keys.Versions), badSecrets...)))) {
		missing = append(missing, fmt.Sprint(v))
	}
	return fmt.Errorf("the keyring %s cannot open %d of the %d data keys in the database, nor %d webhook secrets "+
		"(master key versions %s): that personal data cannot be read. Restore the keyring from its backup (HUSKY_KEYRING); "+
		"do not start with another one", l.KeyringPath, keys.Bad, keys.Keys, len(badSecrets), strings.Join(missing, ", "))
}

// versionsInUse returns the master key versions that still wrap a live
// data key or seal a secret.
func (l *Lifecycle) versionsInUse(ctx context.Context) (map[uint32]bool, error) {
	keys, err := l.Vault.Versions(ctx, l.DB.Reader)
	if err != nil {
		return nil, err
	}
	secrets, err := l.Partners.SecretVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := map[uint32]bool{}
	for v := range keys {
		out[v] = true
	}
	for v := range secrets {
		out[v] = true
	}
	return out, nil
}

// SealPlaintext seals what a database from before the vault holds in plain
// text (orders, their answers, payloads and answer bodies), then clears
// the write-ahead log, whose old pages would still show it.
func (l *Lifecycle) SealPlaintext(ctx context.Context) error {
	ids, err := l.Orders.SealPlaintext(ctx)
	if err != nil {
		return err
	}
	if err := l.Deliveries.SealPayloads(ctx, l.Vault, ids); err != nil {
		return err
	}
	holds, err := l.Holds.SealPlaintext(ctx)
	if err != nil || len(ids)+holds == 0 {
		return err
	}
	l.Logger.Info("orders sealed with data keys of their own", "orders", len(ids), "legal_holds", holds)
	return l.DB.Checkpoint(ctx)
}

// RotationResult is what a rotation did.
type RotationResult struct {
	Version   uint32 `json:"version"`
	Rewrapped int    `json:"data_keys_rewrapped"`
	Secrets   int    `json:"secrets_resealed"`
	// Resumed: an earlier rotation to Version had stopped part-way, and
	// this one finished it instead of adding a version.
	Resumed bool          `json:"resumed,omitempty"`
	Took    time.Duration `json:"took_ns"`
}

// Rotate adds a master key version and re-wraps every live data key
// and webhook secret under it, online: in batches of 1,000, each its own
// short transaction, while the API and the dispatcher keep working. A
// running `husky serve` reads the new keyring within seconds (see
// Reload); keys it wrapped with the old version meanwhile are
// caught by the pass made after that.
//
// A rotation that stopped part-way (a crash, a key that did not open) is
// finished, not followed by another version: while data keys wait under an
// older version, rotating re-wraps them under the current one first, so
// versions never pile up and the keyring stays one consistent set.
func (l *Lifecycle) Rotate(ctx context.Context, actor string, settle time.Duration) (_ RotationResult, err error) {
	ctx, span := tracing.Start(ctx, "keys.rotate", trace.SpanKindInternal)
	defer func() { tracing.End(span, err) }()
	start := time.Now()
	if err := l.Check(ctx); err != nil {
		return RotationResult{}, fmt.Errorf("rotate: %w", err)
	}
	inUse, err := l.Vault.Versions(ctx, l.DB.Reader)
	if err != nil {
		return RotationResult{}, err
	}
	v, resumed := l.Keyring.Current(), false
	for old := range inUse {
		if old != v {
			resumed = true
		}
	}
	if !resumed {
		if v, err = l.Keyring.Rotate(l.Clock.Now()); err != nil {
			return RotationResult{}, err
		}
	}
	res := RotationResult{Version: v, Resumed: resumed}
	pass := func() error {
		for {
			n, err := l.Vault.Rewrap(ctx, l.DB, 1000)
			if err != nil {
				return err
			}
			res.Rewrapped += n
			if n == 0 {
				return nil
			}
		}
	}
	if err := passTwice(ctx, settle, pass); err != nil {
		return res, err
	}
	if res.Secrets, err = l.Partners.ResealSecrets(ctx, v); err != nil {
		return res, err
	}
	res.Took = time.Since(start)
	err = l.DB.Tx(ctx, func(tx *store.Tx) error {
		return l.Audit.Record(ctx, tx, actor, "keyring.rotated", nil, map[string]string{
			"to": fmt.Sprint(v), "count": fmt.Sprint(res.Rewrapped), "attempts": fmt.Sprint(res.Secrets)})
	})
	return res, err
}

// passTwice runs pass, and once more after settle (when set): running
// instances read a changed keyring within seconds, and the second pass
// catches what they did with the old key meanwhile.
func passTwice(ctx context.Context, settle time.Duration, pass func() error) error {
	if err := pass(); err != nil || settle <= 0 {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
	}
	return pass()
}

// LookupRotation is what a rotation of the lookup key did.
type LookupRotation struct {
	Version  uint32        `json:"version"`
	Rehashed int           `json:"orders_rehashed"`
	Took     time.Duration `json:"took_ns"`
}

// RotateLookup makes a new lookup key current and every live order's keyed
// hashes (email, phone, reference) again under it, 1,000 orders to a short
// transaction, online; open requests and restrictions that hold the same
// hashes follow (orders.Rehashed). Running instances read the new key
// within seconds; a pass after settle hashes again what they hashed with
// the old one meanwhile. The old key keeps matching until pruned with the
// master keys (Prune), once nothing was hashed with it.
func (l *Lifecycle) RotateLookup(ctx context.Context, actor string, settle time.Duration) (_ LookupRotation, err error) {
	ctx, span := tracing.Start(ctx, "keys.rotate_lookup", trace.SpanKindInternal)
	defer func() { tracing.End(span, err) }()
	start := time.Now()
	v, err := l.Keyring.RotateLookup(l.Clock.Now())
	if err != nil {
		return LookupRotation{}, err
	}
	res := LookupRotation{Version: v}
	pass := func() error {
		for after := ""; ; {
			n, last, err := l.Orders.Rehash(ctx, after, 1000)
			if err != nil {
				return err
			}
			res.Rehashed += n
			if last == "" {
				return nil
			}
			after = last
		}
	}
	if err := passTwice(ctx, settle, pass); err != nil {
		return res, err
	}
	res.Took = time.Since(start)
	err = l.DB.Tx(ctx, func(tx *store.Tx) error {
		return l.Audit.Record(ctx, tx, actor, "keyring.lookup_rotated", nil, map[string]string{
			"to": fmt.Sprint(v), "count": fmt.Sprint(res.Rehashed)})
	})
	return res, err
}

// lookupVersionsInUse returns the lookup key versions some stored hash was
// made with: live orders', open requests' and restrictions'.
func (l *Lifecycle) lookupVersionsInUse(ctx context.Context) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	for _, f := range []func(context.Context) (map[uint32]bool, error){l.Orders.LookupVersions, l.Subjects.LookupVersions, l.Outbox.LookupVersions} {
		vs, err := f(ctx)
		if err != nil {
			return nil, err
		}
		for v := range vs {
			out[v] = true
		}
	}
	return out, nil
}

// Prune destroys the master key versions, and the lookup keys, retired
// longer than the backup retention that nothing live still needs, and
// returns the master key versions destroyed.
func (l *Lifecycle) Prune(ctx context.Context, actor string) (_ []uint32, err error) {
	ctx, span := tracing.Start(ctx, "keys.prune", trace.SpanKindInternal)
	defer func() { tracing.End(span, err) }()
	inUse, err := l.versionsInUse(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := l.Clock.Now().Add(-l.BackupRetention)
	lookupInUse, err := l.lookupVersionsInUse(ctx)
	if err != nil {
		return nil, err
	}
	lookupGone, err := l.Keyring.PruneLookup(cutoff, lookupInUse)
	if err != nil {
		return nil, err
	}
	if err := l.recordPruned(ctx, actor, "keyring.lookup_pruned", lookupGone); err != nil {
		return nil, err
	}
	gone, err := l.Keyring.Prune(cutoff, inUse)
	if err != nil {
		return gone, err
	}
	return gone, l.recordPruned(ctx, actor, "keyring.pruned", gone)
}

// recordPruned records in the audit trail that the key versions gone
// were destroyed (nothing when none were).
func (l *Lifecycle) recordPruned(ctx context.Context, actor, action string, gone []uint32) error {
	if len(gone) == 0 {
		return nil
	}
	names := make([]string, len(gone))
	for i, v := range gone {
		names[i] = fmt.Sprint(v)
	}
	return l.DB.Tx(ctx, func(tx *store.Tx) error {
		return l.Audit.Record(ctx, tx, actor, action, nil, map[string]string{"from": strings.Join(names, ",")})
	})
}

// PruneRoot seals the secrets under the root key's current version and
// destroys from its file the versions retired longer than the backup
// retention, and returns them (see the package function PruneRoot).
func (l *Lifecycle) PruneRoot(ctx context.Context, actor string) ([]uint32, error) {
	if l.Root == nil {
		return nil, errors.New("the keyring is not in the database: there is no root key to prune (HUSKY_ROOT_KEY_FILE)")
	}
	gone, err := PruneRoot(ctx, l.DB, l.Root, l.Clock.Now().Add(-l.BackupRetention), l.Clock.Now)
	if err != nil {
		return gone, err
	}
	return gone, l.recordPruned(ctx, actor, "keyring.root_pruned", gone)
}

// Reload reads the keyring file if it changed. A file that is
// not this keyring is refused: the keys held stay in use, the error is
// logged and husky_keyring_reload_refused_total counts it, so that an
// operator sees it before anything else goes wrong.
func (l *Lifecycle) Reload() {
	if l.Root != nil {
		if changed, err := l.Root.Reload(); err != nil {
			l.Logger.Error("reload root key", "root_key", l.Root.Path(), "error", err.Error())
		} else if changed {
			l.Logger.Info("root key file changed: reloaded", "root_key", l.Root.Path(), "current_version", l.Root.Current())
		}
	}
	changed, err := l.Keyring.Reload()
	switch {
	case errors.Is(err, keyring.ErrForeign):
		if l.Refused != nil {
			l.Refused.Inc()
		}
		l.Logger.Error("keyring file refused: it is not this keyring; the keys held stay in use. Restore this keyring's file",
			"keyring", l.KeyringPath, "keyring_id", l.Keyring.ID(), "error", err.Error())
	case err != nil:
		l.Logger.Error("reload keyring", "error", err.Error())
	case changed:
		l.Logger.Info("keyring changed on disk: reloaded", "current_version", l.Keyring.Current())
	}
}

// Maintenance is the leader's loop that rotates the master key when
// the current one is older than HUSKY_KEY_ROTATION, and prunes retired
// versions daily; it looks every hour.
func (l *Lifecycle) Maintenance() base.Loop {
	var lastPrune time.Time
	return base.Loop{Name: "master keys", Every: time.Hour, Run: func(ctx context.Context) error {
		var errs []error
		if l.Rotation > 0 && l.Clock.Now().Sub(l.Keyring.CurrentSince()) > l.Rotation {
			if res, err := l.Rotate(ctx, "system:key-rotation", 0); err != nil {
				errs = append(errs, fmt.Errorf("rotate master key: %w", err))
			} else {
				l.Logger.Info("master key rotated", "version", res.Version, "data_keys", res.Rewrapped, "took_ms", res.Took.Milliseconds())
			}
		}
		if l.Root != nil {
			// A root version added to every instance's file: move the
			// secrets to it, so the old one can be destroyed.
			if use, err := ResealRoot(ctx, l.DB, l.Root, l.Clock.Now); err != nil {
				errs = append(errs, fmt.Errorf("reseal under the root key: %w", err))
			} else if use.Resealed > 0 {
				l.Logger.Info("secrets sealed under the current root key version", "count", use.Resealed, "root_version", l.Root.Current())
			}
		}
		if time.Since(lastPrune) > 24*time.Hour {
			if gone, err := l.Prune(ctx, "system:key-rotation"); err != nil {
				errs = append(errs, fmt.Errorf("prune master keys: %w", err))
			} else if len(gone) > 0 {
				l.Logger.Info("retired master keys destroyed", "versions", fmt.Sprint(gone))
			}
			lastPrune = time.Now()
		}
		return errors.Join(errs...)
	}}
}

// ReloadEvery is how often serve looks for a keyring another process
// rotated or pruned.
const ReloadEvery = 2 * time.Second
