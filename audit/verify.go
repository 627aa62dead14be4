package audit

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/milestone/husky/store"
	"golang.org/x/mod/sumdb/tlog"
)

// Report is the outcome of Verify. OK is false when anything was changed,
// deleted, reordered or inserted; Problems says what, first problem first,
// and FirstBadEntry names the earliest entry found to be wrong.
type Report struct {
	OK              bool     `json:"ok"`
	Entries         int64    `json:"entries"`
	RootHash        string   `json:"root_hash"`
	Checkpoints     int      `json:"checkpoints_verified"`
	OutsideVerified bool     `json:"outside_checkpoint_verified,omitempty"`
	FirstBadEntry   *int64   `json:"first_bad_entry,omitempty"`
	Problems        []string `json:"problems,omitempty"`
	// Pending counts the entries recorded and not yet integrated (they are
	// not in the tree yet, so not verified); OldestPendingSeconds is how
	// long the oldest has waited.
	Pending              int64   `json:"pending"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
}

func (r *Report) bad(seq int64, format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	if seq >= 0 && (r.FirstBadEntry == nil || seq < *r.FirstBadEntry) {
		r.FirstBadEntry = &seq
	}
}

// badRange records a problem located only to a range starting at lo; it
// names lo as the first bad entry unless a precise finding already did.
func (r *Report) badRange(lo int64, format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	if r.FirstBadEntry == nil {
		r.FirstBadEntry = &lo
	}
}

// memHashes is the tree recomputed from the entries alone.
type memHashes []tlog.Hash

// ReadHashes implements tlog.HashReader over the recomputed hashes.
func (m *memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if idx >= int64(len(*m)) {
			return nil, fmt.Errorf("hash %d not computed", idx)
		}
		out[i] = (*m)[idx]
	}
	return out, nil
}

// Verify recomputes the whole tree from the entries, compares it with the
// stored hashes, checks every stored checkpoint's signature and that each
// later checkpoint extends each earlier one, and, given an outside
// checkpoint (one kept away from the service), proves the current log
// extends it. It reads one consistent snapshot (a single read
// transaction), so a service appending meanwhile cannot make a sound log
// look tampered with. It returns an error only when the database cannot
// be read.
func (l *Log) Verify(ctx context.Context, outside []byte) (Report, error) {
	tx, err := l.DB.Snapshot(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("verify: begin read transaction: %w", err)
	}
	defer tx.Rollback()
	return l.verify(ctx, tx, outside)
}

func (l *Log) verify(ctx context.Context, q sqlx.QueryerContext, outside []byte) (Report, error) {
	var rep Report
	mem := memHashes{}
	var pos int64
	err := eachEntry(ctx, q, func(r entryRow) error {
		if r.Seq != pos {
			if r.Seq > pos {
				rep.bad(pos, "entry %d is missing (deleted)", pos)
			} else {
				rep.bad(r.Seq, "entry %d appears twice", r.Seq)
			}
		}
		e, err := r.entry()
		if err != nil {
			rep.bad(r.Seq, "entry %d is malformed: %v", r.Seq, err)
		}
		e.Seq = r.Seq
		hs, err := tlog.StoredHashes(pos, e.LeafData(), &mem)
		if err != nil {
			return err
		}
		mem = append(mem, hs...)
		pos++
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("read audit entries: %w", err)
	}
	rep.Entries = pos
	root, err := tlog.TreeHash(pos, &mem)
	if err != nil {
		return rep, err
	}
	rep.RootHash = root.String()

	if err := compareStored(ctx, q, mem, pos, &rep); err != nil {
		return rep, err
	}
	if err := l.checkCheckpoints(ctx, q, &mem, pos, &rep); err != nil {
		return rep, err
	}
	if outside != nil {
		t, err := ParseCheckpoint(outside, l.Key.Verifier)
		switch {
		case err != nil:
			rep.bad(-1, "outside checkpoint: %v", err)
		case t.N > pos:
			rep.bad(pos, "the log has %d entries but the outside checkpoint covers %d: entries were removed", pos, t.N)
		default:
			if err := l.extends(&mem, pos, root, t); err != nil {
				rep.bad(-1, "the log does not extend the outside checkpoint of size %d: %v", t.N, err)
			} else {
				rep.OutsideVerified = true
			}
		}
	}
	n, oldest, err := pendingStats(ctx, q)
	if err != nil {
		return rep, fmt.Errorf("read pending audit entries: %w", err)
	}
	rep.Pending = n
	if t, err := store.ParseTime(oldest); err == nil && oldest != "" {
		rep.OldestPendingSeconds = max(0, l.Clock.Now().Sub(t).Seconds())
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// compareStored names the first entry whose recomputed leaf hash differs
// from the stored one.
func compareStored(ctx context.Context, q sqlx.QueryerContext, mem memHashes, n int64, rep *Report) error {
	stored, err := hashCount(ctx, q)
	if err != nil {
		return fmt.Errorf("count audit hashes: %w", err)
	}
	if want := tlog.StoredHashCount(n); stored != want {
		rep.bad(-1, "%d stored hashes for %d entries, want %d", stored, n, want)
	}
	err = eachHash(ctx, q, func(idx int64, h []byte) (bool, error) {
		if idx >= int64(len(mem)) || bytes.Equal(mem[idx][:], h) {
			return true, nil
		}
		level, i := tlog.SplitStoredHashIndex(idx)
		first := i << uint(level)
		rep.bad(first, "entry %d was changed: it no longer matches the hash stored when it was appended", first)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("read audit hashes: %w", err)
	}
	return nil
}

// checkCheckpoints verifies every stored checkpoint against the recomputed
// tree and checks that each extends the one before.
func (l *Log) checkCheckpoints(ctx context.Context, q sqlx.QueryerContext, mem *memHashes, n int64, rep *Report) error {
	cps, err := checkpointNotes(ctx, q)
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	var prev *tlog.Tree
	goodUpTo := int64(0)
	for _, c := range cps {
		t, err := ParseCheckpoint([]byte(c.Note), l.Key.Verifier)
		if err != nil {
			rep.bad(-1, "checkpoint of size %d: %v", c.Size, err)
			continue
		}
		if t.N != c.Size {
			rep.bad(-1, "checkpoint row says size %d but its signed note says %d", c.Size, t.N)
		}
		if t.N > n {
			rep.bad(n, "signed checkpoint covers %d entries but only %d remain: entries from %d on were removed", t.N, n, n)
			continue
		}
		h, err := tlog.TreeHash(t.N, mem)
		if err != nil {
			return err
		}
		if h != t.Hash {
			rep.badRange(goodUpTo, "entries %d to %d do not match the signed checkpoint of size %d", goodUpTo, t.N-1, t.N)
			continue
		}
		if prev != nil {
			p, err := tlog.ProveTree(t.N, prev.N, mem)
			if err == nil {
				err = tlog.CheckTree(p, t.N, t.Hash, prev.N, prev.Hash)
			}
			if err != nil {
				rep.bad(prev.N, "checkpoint of size %d does not extend the one of size %d: %v", t.N, prev.N, err)
			}
		}
		rep.Checkpoints++
		goodUpTo = t.N
		tt := t
		prev = &tt
	}
	return nil
}

// extends proves that the tree of size n with root extends t.
func (l *Log) extends(mem *memHashes, n int64, root tlog.Hash, t tlog.Tree) error {
	h, err := tlog.TreeHash(t.N, mem)
	if err != nil {
		return err
	}
	if h != t.Hash {
		return fmt.Errorf("root hash differs at size %d", t.N)
	}
	p, err := tlog.ProveTree(n, t.N, mem)
	if err != nil {
		return err
	}
	return tlog.CheckTree(p, n, root, t.N, t.Hash)
}
