package box

import (
	"fmt"
	"mime"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// newRecord checks the fields of req other than the URI and IfVersion and
// returns the record to store, without version and time.
func newRecord(req WriteRequest) (*entryRecord, error) {
	if len(req.Content) > MaxEntryBytes {
		return nil, newError(CodeTooLarge,
			"the content of %s is %d bytes, over the maximum of %d (1 MiB); split it into several entries, or store it with put_blob",
			quote(req.URI), len(req.Content), MaxEntryBytes)
	}
	if !utf8.ValidString(req.Content) {
		return nil, newError(CodeInvalidRequest,
			"the content of %s is not valid UTF-8; store binary data with put_blob and write its ref into the entry",
			quote(req.URI))
	}

	contentType := req.ContentType
	if contentType == "" {
		contentType = DefaultContentType
	}
	if err := checkContentType(contentType); err != nil {
		return nil, err
	}
	tags, err := checkTags(req.Tags)
	if err != nil {
		return nil, err
	}
	if reason := checkText(req.UpdatedBy, MaxUpdatedByBytes); reason != "" {
		return nil, newError(CodeInvalidRequest, "updated_by %s %s", quote(req.UpdatedBy), reason)
	}

	return &entryRecord{
		URI:         req.URI,
		ContentType: contentType,
		Tags:        tags,
		UpdatedBy:   req.UpdatedBy,
		Content:     req.Content,
	}, nil
}

func checkContentType(contentType string) error {
	if len(contentType) > MaxContentTypeBytes {
		return newError(CodeInvalidRequest, "the content type %s is %d bytes, over the maximum of %d",
			quote(contentType), len(contentType), MaxContentTypeBytes)
	}
	if _, _, err := mime.ParseMediaType(contentType); err != nil {
		return newError(CodeInvalidRequest, "the content type %s is not a valid media type (%v); pass one such as text/markdown",
			quote(contentType), err)
	}
	return nil
}

// checkTags returns tags without duplicates, never nil.
func checkTags(tags []string) ([]string, error) {
	if len(tags) > MaxTags {
		return nil, newError(CodeInvalidRequest, "%d tags were given, over the maximum of %d; remove some", len(tags), MaxTags)
	}
	unique := make([]string, 0, len(tags))
	for _, tag := range tags {
		if tag == "" || strings.TrimSpace(tag) != tag {
			return nil, newError(CodeInvalidRequest, "the tag %s is empty or has surrounding whitespace; remove it or trim it",
				quote(tag))
		}
		if reason := checkText(tag, MaxTagBytes); reason != "" {
			return nil, newError(CodeInvalidRequest, "the tag %s %s", quote(tag), reason)
		}
		if !slices.Contains(unique, tag) {
			unique = append(unique, tag)
		}
	}
	return unique, nil
}

// checkText returns why s is not short, valid UTF-8 without control
// characters, or "" when it is.
func checkText(s string, maxBytes int) string {
	if len(s) > maxBytes {
		return fmt.Sprintf("is %d bytes, over the maximum of %d", len(s), maxBytes)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "contains a control character; remove it"
	}
	return ""
}

func checkIfVersion(ifVersion *int64) error {
	if ifVersion != nil && *ifVersion < 0 {
		return newError(CodeInvalidRequest, "if_version %d is negative; pass the version you read, 0 for \"must not exist\", or omit it",
			*ifVersion)
	}
	return nil
}

// checkVersion returns a version_conflict error unless ifVersion is nil or
// equals current, where current 0 means the entry does not exist.
func checkVersion(uri string, current int64, ifVersion *int64) error {
	switch {
	case ifVersion == nil || *ifVersion == current:
		return nil
	case current == 0:
		return newError(CodeVersionConflict,
			"the entry %s does not exist, but if_version is %d; pass if_version 0 to create it, or omit if_version",
			quote(uri), *ifVersion)
	case *ifVersion == 0:
		return newError(CodeVersionConflict,
			"the entry %s already exists at version %d, and if_version 0 requires that it does not; read it and retry with if_version %d",
			quote(uri), current, current)
	default:
		return newError(CodeVersionConflict,
			"the entry %s is at version %d, not %d; read it again, merge your change and retry with if_version %d",
			quote(uri), current, *ifVersion, current)
	}
}

func checkLimit(limit, defaultLimit, maxLimit int) (int, error) {
	switch {
	case limit == 0:
		return defaultLimit, nil
	case limit < 0 || limit > maxLimit:
		return 0, newError(CodeInvalidRequest, "limit %d is out of range; pass 1 to %d, or omit it for %d",
			limit, maxLimit, defaultLimit)
	}
	return limit, nil
}
