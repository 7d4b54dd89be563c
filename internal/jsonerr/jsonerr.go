// Package jsonerr says what was wrong with a JSON text in words for the
// person or installer who sent it: encoding/json's errors name Go types and
// struct fields ("cannot unmarshal string into Go struct field
// deviceInput.kind of type int"), which mean nothing to them.
package jsonerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// Describe is err, from decoding JSON, as a sentence naming the field and
// the kind of value wanted, with no Go syntax.
func Describe(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "unexpected end"):
		return "the JSON text ends too soon"
	case errors.As(err, &syn):
		return fmt.Sprintf("not valid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		got := typ.Value
		if kind, _, ok := strings.Cut(got, " "); ok {
			got = kind // "number 1.5": the kind is enough
		}
		if typ.Field == "" {
			return fmt.Sprintf("the JSON text must be %s, not %s", want(typ.Type), article(got))
		}
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, want(typ.Type), article(got))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON text ends too soon"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

var timeType = reflect.TypeFor[time.Time]()

// want names what a Go type holds in JSON's words.
func want(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "a time like \"2026-11-23T08:00:00+08:00\""
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number not below 0"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another kind of value"
}

// article puts "a"/"an" before a JSON kind from encoding/json ("string",
// "number", "object", "array", "bool").
func article(kind string) string {
	switch kind {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "true or false"
	case "":
		return "another kind of value"
	}
	return "a " + kind
}
