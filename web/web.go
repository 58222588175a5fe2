// Package web holds heed's pages, the shopper's preference center (/me)
// and the merchandiser's console (/console): static HTML, CSS and
// JavaScript embedded in the binary, with no build step and no third-party
// asset. The pages call heed's own HTTP API; api/ serves them.
package web

import (
	"embed"
	"io/fs"
	"mime"
	"path"
)

//go:embed static
var static embed.FS

// Files are the pages' files, by name ("me.html", "me.js", ...).
var Files, _ = fs.Sub(static, "static")

// Asset returns the content and media type of the file name, or false if
// there is none.
func Asset(name string) ([]byte, string, bool) {
	b, err := fs.ReadFile(Files, name)
	if err != nil {
		return nil, "", false
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return b, ct, true
}
