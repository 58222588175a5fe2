package api

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

// readBody reads the whole (limited) request body.
func readBody(c *gin.Context) ([]byte, error) {
	if c.Request.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(c.Request.Body)
	switch {
	case tooLarge(err):
		return nil, fmt.Errorf("%w: %v", errTooLarge, err)
	case err != nil:
		return nil, engine.Invalid("body", "could not be read: %v", err)
	}
	return b, nil
}

// decodeBody reads the request body and decodes it as JSON into v; a
// problem names the field.
func decodeBody(c *gin.Context, v any) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	return engine.DecodeJSON(b, v)
}

// mediaType returns the request's media type, lower case, "" if none.
func mediaType(c *gin.Context) string {
	ct := c.GetHeader("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// requireMediaType fails with errMediaType (415) unless the request's
// media type is one of want (a missing Content-Type counts as want[0]).
func requireMediaType(c *gin.Context, want ...string) error {
	mt := mediaType(c)
	if mt == "" || slices.Contains(want, mt) {
		return nil
	}
	return fmt.Errorf("%w: Content-Type %q; want one of %v", errMediaType, mt, want)
}

// ifMatch parses an optional If-Match header holding a version number,
// quoted or not; "*" or none is engine.AnyVersion.
func ifMatch(c *gin.Context) (int, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" || h == "*" {
		return engine.AnyVersion, nil
	}
	s := h
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || strings.HasPrefix(s, "+") {
		return 0, engine.Invalid("If-Match", "%q is not a version number such as \"3\" (from the ETag)", h)
	}
	return v, nil
}

// etag formats a version as the strong entity tag ifMatch accepts.
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// queryInt parses an optional integer query parameter, def when absent.
func queryInt(c *gin.Context, name string, def int) (int, error) {
	s, ok := c.GetQuery(name)
	if !ok || s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, engine.Invalid(name, "%q is not an integer", s)
	}
	return n, nil
}

// userID is the :id path parameter as a user id.
func userID(c *gin.Context) engine.UserID { return engine.UserID(c.Param("id")) }

// fail records err for the problems middleware.
func fail(c *gin.Context, err error) { _ = c.Error(err) }

// noContent answers 204 with no body.
func noContent(c *gin.Context) { c.Status(http.StatusNoContent) }
