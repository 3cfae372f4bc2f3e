package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
)

// statusOfCode maps the error codes of registry operations to HTTP statuses.
var statusOfCode = map[string]int{
	registry.CodeInvalidRequest: http.StatusBadRequest,
	registry.CodeInvalidToken:   http.StatusUnauthorized,
	registry.CodeForbidden:      http.StatusForbidden,
	registry.CodeNotFound:       http.StatusNotFound,
	registry.CodeConflict:       http.StatusConflict,
	registry.CodeRateLimited:    http.StatusTooManyRequests,
}

// writeError sends the JSON error body and records the code for the request
// log.
func writeError(c *gin.Context, status int, code, message string) {
	c.Set("error_code", code)
	abortError(c, status, code, message)
}

// fail sends the error of a registry operation: a *registry.Error with its
// status and message, anything else as 500 with the details only in the
// daemon log.
func fail(c *gin.Context, err error) {
	var rejected *registry.Error
	if errors.As(err, &rejected) {
		status, ok := statusOfCode[rejected.Code]
		if !ok {
			status = http.StatusBadRequest
		}
		writeError(c, status, rejected.Code, rejected.Message)
		return
	}
	_ = c.Error(err)
	writeError(c, http.StatusInternalServerError, "internal", "internal error; the daemon log has the details")
}

// idKinds names each id prefix in error messages.
var idKinds = map[string]string{
	ids.Capsule:    "capsule",
	ids.Connection: "connection",
	ids.Enrollment: "enrollment",
	ids.Operator:   "operator",
	ids.Grant:      "grant",
	ids.Invite:     "invite",
}

// requireID rejects a request whose path parameter param is not an id with
// prefix with 404, before the handler runs and before any file is read.
func requireID(param, prefix string) gin.HandlerFunc {
	return func(c *gin.Context) {
		value := c.Param(param)
		if !ids.Valid(prefix, value) {
			writeError(c, http.StatusNotFound, "not_found", malformedID(idKinds[prefix], prefix, value))
			return
		}
		c.Next()
	}
}

// queryID returns the query parameter name, which must be empty or an id
// with prefix. A malformed id is rejected with 404, as in a path.
func queryID(c *gin.Context, name, prefix string) (string, bool) {
	value := c.Query(name)
	if value != "" && !ids.Valid(prefix, value) {
		writeError(c, http.StatusNotFound, "not_found", name+": "+malformedID(idKinds[prefix], prefix, value))
		return "", false
	}
	return value, true
}

func malformedID(kind, prefix, value string) string {
	return fmt.Sprintf("no %s has the id %q; %s ids are %s followed by 26 lowercase letters and digits", kind, value, kind, prefix)
}

// decodeBody decodes the JSON object of the request body into dst, which
// must point to a struct. Unknown fields, trailing data and wrong types are
// rejected with 400 naming the field, a body over the limit with 413. An
// empty body leaves dst as it is when allowEmpty is set.
func decodeBody(c *gin.Context, dst any, allowEmpty bool) bool {
	decoder := json.NewDecoder(c.Request.Body)
	decoder.DisallowUnknownFields()
	err := decoder.Decode(dst)
	if err == nil {
		if _, extra := decoder.Token(); extra != io.EOF {
			err = errTrailingData
			if IsTooLarge(extra) {
				err = extra
			}
		}
	}
	if err == nil || (errors.Is(err, io.EOF) && allowEmpty) {
		return true
	}

	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	message := ""
	switch {
	case IsTooLarge(err):
		writeError(c, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("request body is over the limit of %d bytes; send a smaller body", MaxBodyBytes))
		return false
	case errors.Is(err, io.EOF):
		message = "request body is empty; send a JSON object with the fields " + fieldList(dst)
	case errors.Is(err, errTrailingData):
		message = "request body has data after the JSON object; send exactly one JSON object"
	case errors.As(err, &syntaxErr):
		message = fmt.Sprintf("request body is not valid JSON (byte %d: %v); send a JSON object", syntaxErr.Offset, syntaxErr)
	case errors.As(err, &typeErr) && typeErr.Field == "":
		message = fmt.Sprintf("request body is a JSON %s; send a JSON object with the fields %s", typeErr.Value, fieldList(dst))
	case errors.As(err, &typeErr):
		message = fmt.Sprintf("field %q is a JSON %s; send a %s", typeErr.Field, typeErr.Value, jsonTypeName(typeErr.Type))
	// encoding/json reports an unknown field only in the error text.
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		message = fmt.Sprintf("request body has the unknown field %s; the allowed fields are %s", field, fieldList(dst))
	case errors.Is(err, io.ErrUnexpectedEOF):
		message = "request body ends inside the JSON object; send the whole object"
	default:
		message = fmt.Sprintf("request body cannot be read: %v", err)
	}
	writeError(c, http.StatusBadRequest, "invalid_request", message)
	return false
}

var errTrailingData = errors.New("data after the JSON object")

// fieldList returns the JSON field names of the struct dst points to.
func fieldList(dst any) string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// jsonTypeName names the JSON type that decodes into t.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "whole number"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "JSON array"
	}
	return "JSON " + t.Kind().String()
}

// optionalString is a request field that distinguishes absent, null and a
// string: Set is false when the field was absent, Value is nil for null.
type optionalString struct {
	Set   bool
	Value *string
}

func (o *optionalString) UnmarshalJSON(data []byte) error {
	o.Set = true
	if string(data) == "null" {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return &json.UnmarshalTypeError{Value: jsonValueKind(data), Type: reflect.TypeFor[string]()}
	}
	o.Value = &s
	return nil
}

// jsonValueKind names the kind of a JSON value by its first byte, as
// json.UnmarshalTypeError.Value does.
func jsonValueKind(data []byte) string {
	if len(data) == 0 {
		return "value"
	}
	switch data[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	}
	return "number"
}
