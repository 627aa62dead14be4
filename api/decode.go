package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// ParseJSON parses one JSON value for a validator to walk: objects become
// map[string]any, arrays []any, numbers json.Number (exact). Malformed JSON,
// text that is not UTF-8 and trailing data are a 400 problem. A key that
// appears twice in one object is returned as a field error, since the two
// values would otherwise be silently resolved to the last.
func ParseJSON(body []byte) (any, []FieldError, error) {
	if !utf8.Valid(body) {
		return nil, nil, New(http.StatusBadRequest, "invalid_encoding", "the request body is not valid UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	p := &parser{dec: dec}
	v, err := p.value("")
	if err != nil {
		return nil, nil, malformed(err, dec.InputOffset())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, New(http.StatusBadRequest, "malformed_json", "the request body holds more than one JSON value")
	}
	return v, p.dups, nil
}

type parser struct {
	dec  *json.Decoder
	dups []FieldError
}

func (p *parser) value(ptr string) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		m := map[string]any{}
		for p.dec.More() {
			kt, err := p.dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			kp := ptr + "/" + EscapePointer(key)
			v, err := p.value(kp)
			if err != nil {
				return nil, err
			}
			if _, dup := m[key]; dup {
				p.dups = append(p.dups, FieldError{Pointer: kp, Code: "duplicate_field", Detail: "appears more than once in its object"})
			}
			m[key] = v
		}
		_, err := p.dec.Token()
		return m, err
	case '[':
		a := []any{}
		for p.dec.More() {
			v, err := p.value(fmt.Sprintf("%s/%d", ptr, len(a)))
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := p.dec.Token()
		return a, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

func malformed(err error, off int64) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return New(http.StatusBadRequest, "malformed_json", "the request body is empty or ends early")
	}
	return New(http.StatusBadRequest, "malformed_json", "the request body is not valid JSON (error near byte %d)", off)
}

// EscapePointer escapes a key for a JSON pointer (RFC 6901).
func EscapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// Decode is the one strict decoder of request bodies into a struct: field
// names must match the struct's json names exactly (encoding/json alone
// would take "URL" for "url"), a key may appear once per object, unknown
// fields are refused, and every problem is reported at once in a 422 with
// a pointer to the field. Malformed JSON is a 400.
func Decode(body []byte, v any) error {
	tree, bad, err := ParseJSON(body)
	if err != nil {
		return err
	}
	bad = append(bad, checkShape(tree, reflect.TypeOf(v), "")...)
	if len(bad) > 0 {
		return Invalid(bad)
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Invalid([]FieldError{{Pointer: "/" + strings.ReplaceAll(te.Field, ".", "/"), Code: "type",
				Detail: "must be " + jsonKind(te.Type)}})
		}
		return New(http.StatusBadRequest, "malformed_json", "the request body could not be decoded")
	}
	return nil
}

// checkShape reports keys of tree that t (a struct, through pointers) has
// no exactly-named field for, and values of the wrong JSON kind.
func checkShape(tree any, t reflect.Type, ptr string) []FieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if tree == nil || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil // null, or a type that reads its own JSON
	}
	switch t.Kind() {
	case reflect.String:
		if _, ok := tree.(string); !ok {
			return []FieldError{{Pointer: ptr, Code: "type", Detail: "must be " + jsonKind(t)}}
		}
	case reflect.Bool:
		if _, ok := tree.(bool); !ok {
			return []FieldError{{Pointer: ptr, Code: "type", Detail: "must be " + jsonKind(t)}}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, ok := tree.(json.Number); !ok || strings.ContainsAny(string(n), ".eE") {
			return []FieldError{{Pointer: ptr, Code: "type", Detail: "must be " + jsonKind(t)}}
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := tree.(json.Number); !ok {
			return []FieldError{{Pointer: ptr, Code: "type", Detail: "must be " + jsonKind(t)}}
		}
	case reflect.Struct:
		m, ok := tree.(map[string]any)
		if !ok {
			return []FieldError{{Pointer: ptr, Code: "type", Detail: "must be an object"}}
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
		var out []FieldError
		for k, x := range m {
			kp := ptr + "/" + EscapePointer(k)
			ft, ok := fields[k]
			if !ok {
				out = append(out, FieldError{Pointer: kp, Code: "unknown_field", Detail: "is not a field of this object"})
				continue
			}
			out = append(out, checkShape(x, ft, kp)...)
		}
		return out
	case reflect.Slice:
		a, ok := tree.([]any)
		if !ok {
			return []FieldError{{Pointer: ptr, Code: "type", Detail: "must be an array"}}
		}
		var out []FieldError
		for i, x := range a {
			out = append(out, checkShape(x, t.Elem(), fmt.Sprintf("%s/%d", ptr, i))...)
		}
		return out
	}
	return nil
}

// unmarshaler is the interface of a type that reads its own JSON.
var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}
