package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"
)

// DecodeJSON decodes one JSON value from data into v, rejecting unknown
// fields and trailing data. Errors are *ValidationError naming the field.
func DecodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return Invalid("body", "is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var pe *time.ParseError
		if errors.As(err, &pe) {
			msg := strings.TrimPrefix(pe.Message, ": ")
			if msg == "" {
				msg = "want a time such as 2026-03-01T10:00:00+08:00"
			}
			return Invalid(timeField(data, pe.Value), "%q is not an RFC 3339 time: %s", pe.Value, msg)
		}
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			if path := unknownField(data, reflect.TypeOf(v)); path != "" {
				return Invalid(path, "is not a known field")
			}
		}
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Invalid("body", "has data after the JSON value")
	}
	return nil
}

// unknownField returns the dotted path of the first member of data that t
// (a struct, map, slice or pointer type) has no field for, or "".
func unknownField(data []byte, t reflect.Type) string {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return ""
	}
	return unknownIn(doc, t, "")
}

func unknownIn(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := jsonFields(t)
		for k, sub := range obj {
			ft, ok := fields[strings.ToLower(k)]
			if !ok {
				return join(k)
			}
			if p := unknownIn(sub, ft, join(k)); p != "" {
				return p
			}
		}
	case reflect.Map:
		if obj, ok := v.(map[string]any); ok {
			for k, sub := range obj {
				if p := unknownIn(sub, t.Elem(), join(k)); p != "" {
					return p
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if arr, ok := v.([]any); ok {
			for i, sub := range arr {
				if p := unknownIn(sub, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// jsonFields maps the lower-cased JSON names of t's fields (with embedded
// structs flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		case name == "":
			name = f.Name
		}
		out[strings.ToLower(name)] = f.Type
	}
	return out
}

// timeField finds the member of data, at any depth, whose value is the
// string s, to name the field a time failed to parse in.
func timeField(data []byte, s string) string {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return "body"
	}
	if path := pathOf(doc, s, ""); path != "" {
		return path
	}
	return "body"
}

// pathOf returns the path ("events[1].occurred_at") of the first string
// member of v, in document order of arrays and key order of objects, equal
// to s; "" if none is.
func pathOf(v any, s, path string) string {
	switch x := v.(type) {
	case string:
		if x == s && path != "" {
			return path
		}
	case []any:
		for i, e := range x {
			if p := pathOf(e, s, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			if p := pathOf(x[k], s, sub); p != "" {
				return p
			}
		}
	}
	return ""
}

// Prefixed returns err with every field problem's field prefixed, for
// errors about one element of a batch ("records[2].").
func Prefixed(err error, prefix string) error {
	var v *ValidationError
	if !errors.As(err, &v) {
		return err
	}
	out := &ValidationError{Problems: make([]FieldProblem, len(v.Problems))}
	for i, p := range v.Problems {
		p.Field = strings.TrimSuffix(prefix+p.Field, ".body")
		out.Problems[i] = p
	}
	return out
}

// jsonProblem turns a decoding error into a field problem.
func jsonProblem(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var inv *ValidationError
	switch {
	case errors.As(err, &inv):
		return err
	case errors.As(err, &syn):
		return Invalid("body", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return Invalid(field, "has JSON type %s; want %s", typ.Value, typeName(typ.Type))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("body", "malformed JSON: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(name, "is not a known field")
	default:
		return Invalid("body", "%v", err)
	}
}

func typeName(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "string (RFC 3339 time)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "object"
	default:
		return "number"
	}
}

// MergePatch applies an RFC 7396 JSON merge patch to the JSON document doc.
func MergePatch(doc, patch []byte) ([]byte, error) {
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, jsonProblem(err)
	}
	if _, ok := p.(map[string]any); !ok {
		return nil, Invalid("body", "a merge patch must be a JSON object")
	}
	var d any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("merge patch: current document: %w", err)
	}
	return json.Marshal(mergeValue(d, p))
}

func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}
