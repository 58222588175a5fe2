package badgerstore

import "path/filepath"

// resolveDir returns dir as the kernel names it in /proc/self/maps:
// absolute, with symlinks resolved (as far as they resolve).
func resolveDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir
}
