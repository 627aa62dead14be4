package api

import "unicode"

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
