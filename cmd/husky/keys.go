package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/milestone/husky/base"
	"github.com/milestone/husky/keyring"
	"github.com/milestone/husky/store"
)

// The master keys' lifecycle: what the database needs of the keyring at
// start, sealing what an older database holds in plain text, rotation,
// pruning, and backups.

// checkKeyring refuses a keyring that cannot open what the database holds:
// without the master key that wrapped a data key, that order's personal
// data is lost, and starting would hide it until the first read failed.
// Every data key is opened, a thousand at a time, not a sample of them.
func (a *App) checkKeyring(ctx context.Context) error {
	keys, err := a.Vault.Check(ctx, a.DB.Reader, 1000)
	if err != nil {
		return err
	}
	badSecrets, err := a.Partners.CheckSecrets(ctx)
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
		"do not start with another one", a.Config.Keyring, keys.Bad, keys.Keys, len(badSecrets), strings.Join(missing, ", "))
}

// versionsInUse returns the master key versions that still wrap a live
// data key or seal a secret.
func (a *App) versionsInUse(ctx context.Context) (map[uint32]bool, error) {
	keys, err := a.Vault.Versions(ctx, a.DB.Reader)
	if err != nil {
		return nil, err
	}
	secrets, err := a.Partners.SecretVersions(ctx)
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

// sealPlaintext seals what a database from before the vault holds in plain
// text (orders, their answers, payloads and answer bodies), then clears
// the write-ahead log, whose old pages would still show it.
func (a *App) sealPlaintext(ctx context.Context) error {
	ids, err := a.Orders.SealPlaintext(ctx)
	if err != nil {
		return err
	}
	if err := a.Deliveries.SealPayloads(ctx, a.Vault, ids); err != nil {
		return err
	}
	holds, err := a.Holds.SealPlaintext(ctx)
	if err != nil || len(ids)+holds == 0 {
		return err
	}
	a.Logger.Info("orders sealed with data keys of their own", "orders", len(ids), "legal_holds", holds)
	return a.DB.Checkpoint(ctx)
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

// rotateKeys adds a master key version and re-wraps every live data key
// and webhook secret under it, online: in batches of 1,000, each its own
// short transaction, while the API and the dispatcher keep working. A
// running `husky serve` reads the new keyring within seconds (see
// reloadKeyring); keys it wrapped with the old version meanwhile are
// caught by the pass made after that.
//
// A rotation that stopped part-way (a crash, a key that did not open) is
// finished, not followed by another version: while data keys wait under an
// older version, rotating re-wraps them under the current one first, so
// versions never pile up and the keyring stays one consistent set.
func (a *App) rotateKeys(ctx context.Context, actor string, settle time.Duration) (RotationResult, error) {
	start := time.Now()
	if err := a.checkKeyring(ctx); err != nil {
		return RotationResult{}, fmt.Errorf("rotate: %w", err)
	}
	inUse, err := a.Vault.Versions(ctx, a.DB.Reader)
	if err != nil {
		return RotationResult{}, err
	}
	v, resumed := a.Keyring.Current(), false
	for old := range inUse {
		if old != v {
			resumed = true
		}
	}
	if !resumed {
		if v, err = a.Keyring.Rotate(a.Clock.Now()); err != nil {
			return RotationResult{}, err
		}
	}
	res := RotationResult{Version: v, Resumed: resumed}
	pass := func() error {
		for {
			n, err := a.Vault.Rewrap(ctx, a.DB, 1000)
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
	if res.Secrets, err = a.Partners.ResealSecrets(ctx, v); err != nil {
		return res, err
	}
	res.Took = time.Since(start)
	err = a.DB.Tx(ctx, func(tx *store.Tx) error {
		return a.Audit.Record(ctx, tx, actor, "keyring.rotated", nil, map[string]string{
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

// rotateLookup makes a new lookup key current and every live order's keyed
// hashes (email, phone, reference) again under it, 1,000 orders to a short
// transaction, online; open requests and restrictions that hold the same
// hashes follow (orders.Rehashed). Running instances read the new key
// within seconds; a pass after settle hashes again what they hashed with
// the old one meanwhile. The old key keeps matching until pruned with the
// master keys (pruneKeys), once nothing was hashed with it.
func (a *App) rotateLookup(ctx context.Context, actor string, settle time.Duration) (LookupRotation, error) {
	start := time.Now()
	v, err := a.Keyring.RotateLookup(a.Clock.Now())
	if err != nil {
		return LookupRotation{}, err
	}
	res := LookupRotation{Version: v}
	pass := func() error {
		for after := ""; ; {
			n, last, err := a.Orders.Rehash(ctx, after, 1000)
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
	err = a.DB.Tx(ctx, func(tx *store.Tx) error {
		return a.Audit.Record(ctx, tx, actor, "keyring.lookup_rotated", nil, map[string]string{
			"to": fmt.Sprint(v), "count": fmt.Sprint(res.Rehashed)})
	})
	return res, err
}

// lookupVersionsInUse returns the lookup key versions some stored hash was
// made with: live orders', open requests' and restrictions'.
func (a *App) lookupVersionsInUse(ctx context.Context) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	for _, f := range []func(context.Context) (map[uint32]bool, error){a.Orders.LookupVersions, a.Subjects.LookupVersions, a.Outbox.LookupVersions} {
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

// pruneKeys destroys the master key versions, and the lookup keys, retired
// longer than the backup retention that nothing live still needs, and
// returns the master key versions destroyed.
func (a *App) pruneKeys(ctx context.Context, actor string) ([]uint32, error) {
	inUse, err := a.versionsInUse(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := a.Clock.Now().Add(-a.Config.BackupRetention)
	lookupInUse, err := a.lookupVersionsInUse(ctx)
	if err != nil {
		return nil, err
	}
	lookupGone, err := a.Keyring.PruneLookup(cutoff, lookupInUse)
	if err != nil {
		return nil, err
	}
	if len(lookupGone) > 0 {
		names := make([]string, len(lookupGone))
		for i, v := range lookupGone {
			names[i] = fmt.Sprint(v)
		}
		if err := a.DB.Tx(ctx, func(tx *store.Tx) error {
			return a.Audit.Record(ctx, tx, actor, "keyring.lookup_pruned", nil, map[string]string{"from": strings.Join(names, ",")})
		}); err != nil {
			return nil, err
		}
	}
	gone, err := a.Keyring.Prune(cutoff, inUse)
	if err != nil || len(gone) == 0 {
		return gone, err
	}
	names := make([]string, len(gone))
	for i, v := range gone {
		names[i] = fmt.Sprint(v)
	}
	err = a.DB.Tx(ctx, func(tx *store.Tx) error {
		return a.Audit.Record(ctx, tx, actor, "keyring.pruned", nil, map[string]string{"from": strings.Join(names, ",")})
	})
	return gone, err
}

// reloadKeyringOnce reads the keyring file if it changed. A file that is
// not this keyring is refused: the keys held stay in use, the error is
// logged and husky_keyring_reload_refused_total counts it, so that an
// operator sees it before anything else goes wrong.
func (a *App) reloadKeyringOnce() {
	changed, err := a.Keyring.Reload()
	switch {
	case errors.Is(err, keyring.ErrForeign):
		a.keyringRefused.Inc()
		a.Logger.Error("keyring file refused: it is not this keyring; the keys held stay in use. Restore this keyring's file",
			"keyring", a.Config.Keyring, "keyring_id", a.Keyring.ID(), "error", err.Error())
	case err != nil:
		a.Logger.Error("reload keyring", "error", err.Error())
	case changed:
		a.Logger.Info("keyring changed on disk: reloaded", "current_version", a.Keyring.Current())
	}
}

// keyMaintenance is the leader's loop that rotates the master key when
// the current one is older than HUSKY_KEY_ROTATION, and prunes retired
// versions daily; it looks every hour.
func (a *App) keyMaintenance() base.Loop {
	var lastPrune time.Time
	return base.Loop{Name: "master keys", Every: time.Hour, Run: func(ctx context.Context) error {
		var errs []error
		if a.Config.KeyRotation > 0 && a.Clock.Now().Sub(a.Keyring.CurrentSince()) > a.Config.KeyRotation {
			if res, err := a.rotateKeys(ctx, "system:key-rotation", 0); err != nil {
				errs = append(errs, fmt.Errorf("rotate master key: %w", err))
			} else {
				a.Logger.Info("master key rotated", "version", res.Version, "data_keys", res.Rewrapped, "took_ms", res.Took.Milliseconds())
			}
		}
		if time.Since(lastPrune) > 24*time.Hour {
			if gone, err := a.pruneKeys(ctx, "system:key-rotation"); err != nil {
				errs = append(errs, fmt.Errorf("prune master keys: %w", err))
			} else if len(gone) > 0 {
				a.Logger.Info("retired master keys destroyed", "versions", fmt.Sprint(gone))
			}
			lastPrune = time.Now()
		}
		return errors.Join(errs...)
	}}
}

// keyringReload is how often serve looks for a keyring another process
// rotated or pruned.
const keyringReload = 2 * time.Second
