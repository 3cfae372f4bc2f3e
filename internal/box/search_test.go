package box

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hitURIs(hits []Hit) []string {
	var out []string
	for _, hit := range hits {
		out = append(out, hit.URI)
	}
	return out
}

func TestSearchRanksByRelevance(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://auth", "# Authentication\n\nTokens are hashed with SHA-256. Tokens expire after a day.")
	write(t, b, "notes://backup", "# Backups\n\nArchives are gzip tar files. The token file is left out.")
	write(t, b, "notes://cooking", "# Soup\n\nBoil water, add salt.")

	hits, err := b.Search("token tokens", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://auth", "notes://backup"}, hitURIs(hits))
	assert.Equal(t, "Authentication", hits[0].Title)
	assert.Greater(t, hits[0].Score, hits[1].Score)

	// Words match whole: "token" does not find "tokens".
	hits, err = b.Search("token", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://backup"}, hitURIs(hits))
}

func TestSearchWeighsTitleAndTags(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://body", "# Notes\n\nSomething about deploys and other things entirely.")
	write(t, b, "notes://title", "# Deploys\n\nSomething about releases and other things entirely.")
	write(t, b, "notes://tagged", "# Notes\n\nSomething about releases and other things entirely.", "deploys")

	hits, err := b.Search("deploys", "", 0)
	require.NoError(t, err)
	require.Len(t, hits, 3)
	assert.Equal(t, "notes://body", hits[2].URI, "a content-only match must rank below title and tag matches")
}

func TestSearchMatchesAnyWordCaseInsensitive(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://one", "Kubernetes cluster")
	write(t, b, "notes://two", "Postgres replica")
	write(t, b, "notes://both", "Kubernetes runs the Postgres replica")

	hits, err := b.Search("POSTGRES kubernetes", "", 0)
	require.NoError(t, err)
	assert.Equal(t, "notes://both", hits[0].URI)
	assert.ElementsMatch(t, []string{"notes://one", "notes://two", "notes://both"}, hitURIs(hits))
}

func TestSearchNonASCII(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://fr", "Le café est fermé le dimanche.")
	hits, err := b.Search("CAFÉ", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://fr"}, hitURIs(hits))
}

func TestSearchPrefixAndLimit(t *testing.T) {
	b := openTestBox(t, Options{})
	for i := range 20 {
		write(t, b, fmt.Sprintf("notes://a/%02d", i), "shared word")
		write(t, b, fmt.Sprintf("notes://b/%02d", i), "shared word")
	}

	hits, err := b.Search("shared", "notes://b/", 5)
	require.NoError(t, err)
	assert.Len(t, hits, 5)
	for _, hit := range hits {
		assert.True(t, strings.HasPrefix(hit.URI, "notes://b/"), hit.URI)
	}

	hits, err = b.Search("shared", "", 0)
	require.NoError(t, err)
	assert.Len(t, hits, DefaultSearchLimit)

	// Equal scores are ordered by URI.
	assert.Equal(t, "notes://a/00", hits[0].URI)
	assert.Equal(t, "notes://a/01", hits[1].URI)
}

func TestSearchFollowsWritesAndDeletes(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://x", "alpha")
	write(t, b, "notes://y", "alpha beta")

	write(t, b, "notes://x", "gamma")
	hits, err := b.Search("alpha", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://y"}, hitURIs(hits))

	hits, err = b.Search("gamma", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://x"}, hitURIs(hits))

	require.NoError(t, b.DeleteEntry("notes://y", nil))
	hits, err = b.Search("beta", "", 0)
	require.NoError(t, err)
	assert.Empty(t, hits)

	// The freed doc and term ids are reused without mixing entries up.
	write(t, b, "notes://z", "beta delta")
	hits, err = b.Search("beta", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://z"}, hitURIs(hits))
	hits, err = b.Search("alpha", "", 0)
	require.NoError(t, err)
	assert.Empty(t, hits)
}

func TestSearchRemovesUnusedTerms(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://x", "unique words here")
	require.NoError(t, b.DeleteEntry("notes://x", nil))

	assert.Empty(t, b.idx.termIDs)
	assert.Zero(t, b.idx.totalLength)
}

func TestSearchRejectsBadArguments(t *testing.T) {
	b := openTestBox(t, Options{})
	cases := []struct {
		name  string
		query string
		limit int
	}{
		{"no words", "  --- !!", 0},
		{"empty", "", 0},
		{"query too long", strings.Repeat("word ", MaxQueryBytes), 0},
		{"negative limit", "word", -1},
		{"limit over max", "word", MaxSearchLimit + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Search(tc.query, "", tc.limit)
			assert.ErrorIs(t, err, ErrInvalidRequest)
		})
	}
}

func TestSearchSnippet(t *testing.T) {
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 40)
	b := openTestBox(t, Options{})
	write(t, b, "notes://long", "# Intro\n\n"+filler+"the rotation of credentials happens weekly. "+filler)

	hits, err := b.Search("rotation credentials", "", 0)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	snippet := hits[0].Snippet
	assert.Contains(t, snippet, "rotation of credentials")
	assert.True(t, strings.HasPrefix(snippet, "…"), snippet)
	assert.True(t, strings.HasSuffix(snippet, "…"), snippet)
	assert.LessOrEqual(t, len(snippet), snippetBytes+len("……"))
}

func TestSearchSnippetWhenOnlyTagMatches(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://t", "Short body\n  with   spaces", "special")

	hits, err := b.Search("special", "", 0)
	require.NoError(t, err)
	require.Len(t, hits, 1)
	assert.Equal(t, "Short body with spaces", hits[0].Snippet)
}

func TestExcerptKeepsUTF8(t *testing.T) {
	content := strings.Repeat("é", 200) + "match" + strings.Repeat("ü", 200)
	snippet := excerpt(content, strings.Index(content, "match"))
	assert.Contains(t, snippet, "match")
	assert.True(t, strings.ToValidUTF8(snippet, "?") == snippet, "snippet is not valid UTF-8: %q", snippet)
}

func TestTitleOf(t *testing.T) {
	cases := []struct {
		name        string
		content     string
		contentType string
		want        string
	}{
		{"heading", "# Design of auth\nbody", "text/markdown", "Design of auth"},
		{"heading after text", "intro line\n\n## Section ##\nbody", "text/markdown", "Section"},
		{"closing hashes kept when part of text", "# C#\n", "text/markdown", "C#"},
		{"hashtag is not a heading", "#tag line\n# Real", "text/markdown", "Real"},
		{"heading in code fence", "```\n# comment\n```\n# Title", "text/markdown", "Title"},
		{"indented code", "    # code\nfirst", "text/markdown", "# code"},
		{"no heading", "\n\n  first line  \nsecond", "text/markdown", "first line"},
		{"plain text ignores hashes", "plain\n# not a heading", "text/plain", "plain"},
		{"markdown with parameters", "# T\n", "text/markdown; charset=utf-8", "T"},
		{"empty", "", "text/markdown", ""},
		{"long", "# " + strings.Repeat("é", 300), "text/markdown", strings.Repeat("é", maxTitleBytes/2)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, titleOf(tc.content, tc.contentType))
		})
	}
}

func TestQueryTerms(t *testing.T) {
	assert.Equal(t, []string{"auth", "flow", "v2"}, queryTerms("Auth-flow, AUTH v2!"))
	assert.Empty(t, queryTerms(strings.Repeat("x", maxTermBytes+1)))
}
