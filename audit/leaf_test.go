package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/milestone/husky/store"
)

// leafJSON is how LeafData was first written, with encoding/json: every
// entry already in a trail was hashed from these bytes.
func leafJSON(e Entry) []byte {
	b, err := json.Marshal(struct {
		Seq      int64             `json:"seq"`
		Time     string            `json:"time"`
		Actor    string            `json:"actor"`
		Action   string            `json:"action"`
		Subjects map[string]string `json:"subjects"`
		Details  map[string]string `json:"details"`
	}{e.Seq, store.FormatTime(e.Time), e.Actor, e.Action, e.Subjects, e.Details})
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzLeafDataMatchesEncodingJSON(f *testing.F) {
	f.Add(int64(7), "key:0123", "disclosure.delivered", "order_id", "ord_1", "fields", "phone,email,address")
	f.Add(int64(0), "a\"b\\c", "<&>", "\u2028\u2029", "\x00\x1f\x7f\b\f\n\r\t", "\xff\xfe", "é☃😀")
	f.Fuzz(func(t *testing.T, seq int64, actor, action, k1, v1, k2, v2 string) {
		at := time.Date(2026, 11, 29, 10, 0, 0, 123456000, time.UTC)
		for _, e := range []Entry{
			{Seq: seq, Time: at, Actor: actor, Action: action, Subjects: map[string]string{k1: v1}, Details: map[string]string{k2: v2, k1: v2}},
			{Seq: seq, Time: at, Actor: actor, Action: action},
			{Seq: seq, Time: at, Actor: actor, Action: action, Subjects: map[string]string{}, Details: map[string]string{}},
		} {
			if got, want := e.LeafData(), leafJSON(e); !bytes.Equal(got, want) {
				t.Fatalf("LeafData\n got %q\nwant %q", got, want)
			}
		}
	})
}
