package auditlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// timestampLayout is RFC 3339 in UTC with milliseconds. At a fixed width,
// the timestamps of a file sort as strings in time order.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// encodedRecord is a record encoded as JSON without its "ts" member, ready
// to be framed into a line by Log.Append.
type encodedRecord struct {
	// members is the text between the braces, "ts" removed, possibly empty.
	members []byte
	// ts is the record's own timestamp, zero when absent.
	ts time.Time
}

// validator is implemented by record types that check their own fields
// before they are written.
type validator interface {
	Validate() error
}

// encodeRecord encodes record, which must encode to a JSON object that
// has no "prev" member.
func encodeRecord(record any) (encodedRecord, error) {
	if v, ok := record.(validator); ok {
		if err := v.Validate(); err != nil {
			return encodedRecord{}, err
		}
	}

	// HTML escaping is off so that "<", ">" and "&" stay readable for grep,
	// where json.Marshal would write them as \u003c, \u003e and \u0026.
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(record); err != nil {
		return encodedRecord{}, fmt.Errorf("encode audit record: %w", err)
	}
	object := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))

	members, err := splitObject(object)
	if err != nil {
		return encodedRecord{}, fmt.Errorf("encode audit record of type %T: %w", record, err)
	}

	out := encodedRecord{members: make([]byte, 0, len(object))}
	for _, m := range members {
		switch string(m.key) {
		case "prev":
			return encodedRecord{}, errors.New(`audit record must not contain "prev": Append sets it to the hash of the previous line`)
		case "ts":
			if out.ts, err = parseTimestamp(m.value); err != nil {
				return encodedRecord{}, err
			}
			continue
		}
		if len(out.members) > 0 {
			out.members = append(out.members, ',')
		}
		out.members = append(out.members, m.text...)
	}
	return out, nil
}

// parseTimestamp parses the JSON value of a record's "ts". null and the
// zero time count as absent.
func parseTimestamp(value []byte) (time.Time, error) {
	var ts time.Time
	if err := json.Unmarshal(value, &ts); err != nil {
		return time.Time{}, fmt.Errorf(`invalid "ts" %s in audit record: expected an RFC 3339 time such as "2025-01-31T12:00:00.000Z"`, value)
	}
	return ts, nil
}

// appendLine appends one complete log line to buf: the record with "ts"
// first and "prev" last, and a newline.
func appendLine(buf []byte, record encodedRecord, ts time.Time, prev string) []byte {
	buf = append(buf, `{"ts":"`...)
	buf = ts.UTC().AppendFormat(buf, timestampLayout)
	buf = append(buf, '"', ',')
	if len(record.members) > 0 {
		buf = append(buf, record.members...)
		buf = append(buf, ',')
	}
	buf = append(buf, `"prev":"`...)
	buf = append(buf, prev...)
	buf = append(buf, '"', '}', '\n')
	return buf
}

// member is one top-level member of a JSON object.
type member struct {
	// key is the unescaped key.
	key   []byte
	value []byte
	// text is the member as written: "key":value.
	text []byte
}

var errNotObject = errors.New("an audit record must encode to a JSON object")

// splitObject returns the top-level members of object, which must be
// compact, valid JSON as encoding/json writes it.
func splitObject(object []byte) ([]member, error) {
	if len(object) < 2 || object[0] != '{' || object[len(object)-1] != '}' {
		return nil, errNotObject
	}

	members := make([]member, 0, 16)
	end := len(object) - 1
	for i := 1; i < end; {
		keyEnd := skipString(object, i)
		if keyEnd < 0 || keyEnd >= end || object[keyEnd] != ':' {
			return nil, fmt.Errorf("invalid JSON object near byte %d", i)
		}
		key, err := unquoteKey(object[i:keyEnd])
		if err != nil {
			return nil, fmt.Errorf("invalid JSON object key near byte %d: %w", i, err)
		}
		valueEnd := skipValue(object, keyEnd+1)
		if valueEnd < 0 {
			return nil, fmt.Errorf("invalid JSON object value near byte %d", keyEnd+1)
		}
		members = append(members, member{
			key:   key,
			value: object[keyEnd+1 : valueEnd],
			text:  object[i:valueEnd],
		})

		i = valueEnd
		if object[i] == ',' {
			i++
		}
	}
	return members, nil
}

// unquoteKey returns the content of a JSON string. Keys without escapes,
// the usual case, are returned without a copy.
func unquoteKey(quoted []byte) ([]byte, error) {
	content := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(content, '\\') < 0 {
		return content, nil
	}
	var key string
	if err := json.Unmarshal(quoted, &key); err != nil {
		return nil, err
	}
	return []byte(key), nil
}

// skipString returns the index just after the JSON string that starts at
// data[start], or -1 if there is none.
func skipString(data []byte, start int) int {
	if start >= len(data) || data[start] != '"' {
		return -1
	}
	for i := start + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index of the comma or closing brace that ends the
// compact JSON value starting at data[start], or -1 if it does not end.
func skipValue(data []byte, start int) int {
	depth := 0
	for i := start; i < len(data); {
		switch data[i] {
		case '"':
			i = skipString(data, i)
			if i < 0 {
				return -1
			}
			continue
		case '{', '[':
			depth++
		case ']':
			depth--
		case '}':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return -1
}
