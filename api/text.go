package api

import (
	"fmt"
	"unicode"
)

// Text problems CheckText reports.
const (
	TextControl   = "must not contain control characters"
	TextInvisible = "must not contain invisible or bidirectional formatting characters, which make text read differently from what it is"
	TextBroken    = "must not contain lone surrogates or the replacement character U+FFFD"
)

// CheckText returns why s is not acceptable free text, or "". Control
// characters are refused (multiline text may hold line breaks and tabs),
// as are the invisible and bidirectional formatting characters (zero-width
// spaces and joiners, directional marks, embeddings, overrides and isolates,
// the byte-order mark) and U+FFFD, which is what a lone surrogate escape
// such as \ud800 decodes to.
func CheckText(s string, multiline bool) string {
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\t' || r == '\r'):
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return TextControl
		case invisible(r):
			return TextInvisible
		case r == unicode.ReplacementChar:
			return TextBroken
		}
	}
	return ""
}

func invisible(r rune) bool {
	return (r >= '\u200b' && r <= '\u200f') || (r >= '\u202a' && r <= '\u202e') ||
		(r >= '\u2060' && r <= '\u2064') || (r >= '\u2066' && r <= '\u2069') || r == '\ufeff' || r == '\u061c'
}

// TextField checks an optional free-text field of a request at pointer
// ptr: at most max bytes, multiline, and readable as it is (CheckText).
func TextField(ptr, s string, max int) []FieldError {
	if len(s) > max {
		return []FieldError{{Pointer: ptr, Code: "too_long", Detail: fmt.Sprintf("must be at most %d bytes", max)}}
	}
	if why := CheckText(s, true); why != "" {
		return []FieldError{{Pointer: ptr, Code: "invalid_text", Detail: why}}
	}
	return nil
}
