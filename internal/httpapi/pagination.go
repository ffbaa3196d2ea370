package httpapi

import (
	"net/url"
	"strconv"
	"strings"
)

// List is the standard list envelope {object:"list", data, hasMore} with `total` (offset lists) or `limit`
// (cursor lists) when the endpoint reports them.
type List[T any] struct {
	Object  string `json:"object" enum:"list"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"hasMore"`
	Total   *int   `json:"total,omitempty"`
	Limit   *int   `json:"limit,omitempty"`
}

// NewList wraps items; nil becomes an empty array so `data` is never null.
func NewList[T any](items []T, hasMore bool) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Object: "list", Data: items, HasMore: hasMore}
}

// MaxPageSize is the upper bound of every `limit` parameter.
const MaxPageSize = 100

// ParseLimit reads a `limit` query value: missing or invalid (non-integer, < 1, > MaxPageSize) → def, as the
// upstream offset lists do.
func ParseLimit(raw string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 1 || n > MaxPageSize {
		return def
	}
	return n
}

// ParseOffset reads an `offset` query value: missing or invalid → 0.
func ParseOffset(raw string) int {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Page is one offset page.
type Page struct{ Limit, Offset, Total int }

// HasMore reports whether items exist after this page (offset + returned < total).
func (p Page) HasMore(returned int) bool { return p.Offset+returned < p.Total }

// OffsetLinks renders the Link header (rel next, prev, first, last) of an offset page. requestURL must be the
// absolute URL of the request; its other query parameters are kept.
func OffsetLinks(requestURL *url.URL, p Page) string {
	if p.Limit <= 0 {
		return ""
	}
	link := func(offset int, rel string) string {
		return linkValue(requestURL, rel, map[string]string{"limit": strconv.Itoa(p.Limit), "offset": strconv.Itoa(offset)})
	}
	var links []string
	if p.Offset+p.Limit < p.Total {
		links = append(links, link(p.Offset+p.Limit, "next"))
	}
	if p.Offset > 0 {
		links = append(links, link(max(p.Offset-p.Limit, 0), "prev"))
	}
	links = append(links, link(0, "first"))
	last := 0
	if p.Total > 0 {
		last = ((p.Total - 1) / p.Limit) * p.Limit
	}
	links = append(links, link(last, "last"))
	return strings.Join(links, ", ")
}

// Cursor is a cursor page request: at most one of StartingAfter and EndingBefore is set.
type Cursor struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
}

// ParseCursor validates cursor parameters: limit 1..100 (default def) and mutually exclusive cursors.
func ParseCursor(rawLimit, startingAfter, endingBefore string, def int) (Cursor, *Problem) {
	c := Cursor{Limit: def, StartingAfter: startingAfter, EndingBefore: endingBefore}
	if rawLimit != "" {
		n, err := strconv.Atoi(rawLimit)
		if err != nil || n < 1 || n > MaxPageSize {
			return c, BadRequest("invalid_request", "limit must be an integer between 1 and 100").WithParam("limit")
		}
		c.Limit = n
	}
	if startingAfter != "" && endingBefore != "" {
		return c, BadRequest("invalid_request", "startingAfter and endingBefore are mutually exclusive").WithParam("startingAfter")
	}
	return c, nil
}

// CursorLinks renders the Link header of a cursor page: next (startingAfter = last id) when there is more,
// prev (endingBefore = first id) when the page did not start at the top.
func CursorLinks(requestURL *url.URL, c Cursor, firstID, lastID string, hasMore bool) string {
	limit := strconv.Itoa(c.Limit)
	var links []string
	forward := c.EndingBefore == ""
	if lastID != "" && (hasMore || !forward) {
		links = append(links, linkValue(requestURL, "next", map[string]string{"limit": limit, "startingAfter": lastID, "endingBefore": ""}))
	}
	if firstID != "" && (c.StartingAfter != "" || (!forward && hasMore)) {
		links = append(links, linkValue(requestURL, "prev", map[string]string{"limit": limit, "endingBefore": firstID, "startingAfter": ""}))
	}
	return strings.Join(links, ", ")
}

// linkValue renders `<url>; rel="rel"` with the given query parameters replaced ("" removes one).
func linkValue(base *url.URL, rel string, params map[string]string) string {
	u := *base
	q := u.Query()
	for k, v := range params {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return "<" + u.String() + `>; rel="` + rel + `"`
}
