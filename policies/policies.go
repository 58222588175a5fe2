package policies

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"

	"heed/engine"
)

// The base policy set, used unless Options.Dir is set.
//
//go:embed *.rego
var embedded embed.FS

// Options configure New. The zero value loads the embedded modules.
type Options struct {
	// Dir, when set, loads the base modules from the *.rego files in this
	// directory instead of the embedded ones.
	Dir string
	// Overrides maps a module name to Rego text laid over the base set:
	// the modules replaced at run time, as the store keeps them.
	Overrides map[string]string
}

// A Set is the policy set in force and its evaluator; it satisfies
// engine.Gate. Its methods are safe for concurrent use.
type Set struct {
	log *slog.Logger
	in  *inputs

	// What every evaluation shares (see evalTerm). cancel is a
	// topdown.Cancel that nothing cancels, so that OPA does not start a
	// goroutine per evaluation to watch the context. The trade-off: an
	// evaluation that has started runs to completion even if ctx ends.
	// Decisions take tens of microseconds and their input is bounded, so the
	// Gate methods check ctx before evaluating and no later. (Query, for ad
	// hoc queries, honours ctx throughout.) requestMetadata is read by
	// built-ins, never written.
	cancel          topdown.Cancel
	metrics         metrics.Metrics
	requestMetadata map[string]any
	evals           sync.Pool // of *evaluation

	cur atomic.Pointer[snapshot]
	mu  sync.Mutex // serializes Replace, so that no change is lost
}

var _ engine.Gate = (*Set)(nil)

// New compiles the base modules (embedded, or Options.Dir) with
// Options.Overrides laid over them, runs their Rego tests and prepares every
// entrypoint. It returns a *engine.PolicyError when a module does not
// compile, an entrypoint is missing or a test fails: heed does not start on
// a policy set it cannot vouch for.
func New(ctx context.Context, opts Options, log *slog.Logger) (*Set, error) {
	base, err := loadModules(opts.Dir)
	if err != nil {
		return nil, err
	}
	modules := make(map[string]string, len(base)+len(opts.Overrides))
	maps.Copy(modules, base)
	for name, text := range opts.Overrides {
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("override %q: %w", name, err)
		}
		modules[name] = text
	}
	s := &Set{log: log, in: newInputs(), cancel: topdown.NewCancel(), metrics: metrics.NoOp(),
		requestMetadata: map[string]any{}, evals: sync.Pool{New: newEvaluation}}
	snap, err := s.build(ctx, modules)
	if err != nil {
		return nil, err
	}
	s.cur.Store(snap)
	log.InfoContext(ctx, "policies loaded", "revision", snap.revision, "modules", len(modules),
		"overrides", len(opts.Overrides), "tests", snap.tests)
	return s, nil
}

// loadModules reads the *.rego files of dir, or the embedded ones when dir
// is "", keyed by module name.
func loadModules(dir string) (map[string]string, error) {
	var fsys fs.FS = embedded
	if dir != "" {
		fsys = os.DirFS(dir)
	}
	files, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load policies: no *.rego files in %q", dir)
	}
	modules := make(map[string]string, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("load policies: %w", err)
		}
		modules[strings.TrimSuffix(f, ".rego")] = string(b)
	}
	return modules, nil
}

// checkName reports whether name can name a module: a lower-case letter,
// then lower-case letters, digits and underscores.
func checkName(name string) error {
	ok := name != "" && name[0] >= 'a' && name[0] <= 'z'
	for _, c := range []byte(name) {
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_')
	}
	if !ok || len(name) > 64 {
		return engine.Invalid("name", "module name %q must match ^[a-z][a-z0-9_]*$ (at most 64 characters)", name)
	}
	return nil
}

// Revision names the policy set in force: a short hash of its modules.
func (s *Set) Revision() string { return s.cur.Load().revision }

// ShippedDelivery reports whether the set in force decides as the shipped
// one does: its modules, tests aside, are the embedded ones, unchanged.
// engine.DecideDelivery is their hand-written reference for deliveries.
func (s *Set) ShippedDelivery() bool { return s.cur.Load().shipped }

// shipped reports whether modules, tests aside, are the embedded ones.
func shipped(modules map[string]string) bool {
	base, err := embeddedModules()
	if err != nil {
		return false
	}
	decides := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for name, text := range m {
			if !strings.HasSuffix(name, "_test") {
				out[name] = text
			}
		}
		return out
	}
	return maps.Equal(decides(modules), decides(base))
}

var embeddedModules = sync.OnceValues(func() (map[string]string, error) { return loadModules("") })

// Modules returns the source of every module in force, by name. The map is
// the caller's.
func (s *Set) Modules() map[string]string { return maps.Clone(s.cur.Load().modules) }

// Replace puts text in force as module name (adding it if new): it compiles
// the whole set with the change, checks that every entrypoint is still
// defined and answers in the expected shape, and runs all the set's Rego
// tests. On success the new set takes effect atomically; evaluations
// already running finish on the old one. Otherwise it returns a
// *engine.PolicyError (errors.Is engine.ErrPolicyReject) listing the compile
// errors or failing tests, and the old set stays in force. A malformed name
// is an *engine.ValidationError (engine.ErrInvalid).
func (s *Set) Replace(ctx context.Context, name, text string) error {
	if err := checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	modules := maps.Clone(old.modules)
	modules[name] = text
	snap, err := s.build(ctx, modules)
	if err != nil {
		s.log.WarnContext(ctx, "policy change refused", "module", name, "revision", old.revision, "err", err)
		return err
	}
	s.cur.Store(snap)
	s.log.InfoContext(ctx, "policy changed", "module", name, "from", old.revision, "to", snap.revision,
		"tests", snap.tests)
	return nil
}
