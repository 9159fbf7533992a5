package inferkit

/*
#include <stdlib.h>
#include "inferkit.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// RegistryOption configures OpenRegistry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	explicit bool
	poll     time.Duration
}

// WithExplicitLoading opens the repository without loading its models: load them with
// Registry.Load.
func WithExplicitLoading() RegistryOption { return func(c *registryConfig) { c.explicit = true } }

// WithPollInterval re-scans the repository on a background thread at this interval (default:
// only on Reload).
func WithPollInterval(d time.Duration) RegistryOption {
	return func(c *registryConfig) { c.poll = d }
}

// Registry is a model repository: root/<model>/<version>/model.onnx with an optional
// root/<model>/config.toml (instances, batching, labels, traffic split, pipeline, warmup). It
// is safe for concurrent use: select models, move labels and reload from any goroutines.
// Models selected from it stay valid after Close (each holds its version) until closed
// themselves.
type Registry struct {
	mu      sync.RWMutex
	p       *C.inferkit_registry
	cleanup runtime.Cleanup
}

// OpenRegistry opens the repository at root and (unless WithExplicitLoading) loads every
// model. Versions that fail to load do not fail the open; StatusJSON shows them.
func OpenRegistry(root string, opts ...RegistryOption) (*Registry, error) {
	if err := abiCheck(); err != nil {
		return nil, err
	}
	var cfg registryConfig
	for _, o := range opts {
		o(&cfg)
	}
	croot, err := cString(root, "root")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(croot))
	var p *C.inferkit_registry
	var cerr *C.inferkit_error
	st := C.inferkit_registry_open(croot, C.bool(!cfg.explicit), C.uint64_t(cfg.poll/time.Millisecond), &p, &cerr)
	if err := takeError(st, cerr); err != nil {
		return nil, err
	}
	r := &Registry{p: p}
	r.cleanup = runtime.AddCleanup(r, func(p *C.inferkit_registry) { C.inferkit_registry_close(p) }, p)
	return r, nil
}

// Close closes the registry and stops its polling. Models selected from it stay valid. Close
// waits for calls in progress on the registry (a Reload, say); it may be called more than once,
// from any goroutine, and always returns nil.
func (r *Registry) Close() error {
	r.mu.Lock()
	p := r.p
	r.p = nil
	r.mu.Unlock()
	if p != nil {
		r.cleanup.Stop()
		C.inferkit_registry_close(p)
	}
	return nil
}

func (r *Registry) with(f func(p *C.inferkit_registry) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.p == nil {
		return closedError("registry")
	}
	err := f(r.p)
	runtime.KeepAlive(r)
	return err
}

// selectModel wraps inferkit_registry_model.
func (r *Registry) selectModel(name string, version uint64, label *string) (*Model, error) {
	cname, err := goCString(name, "model name")
	if err != nil {
		return nil, err
	}
	var clabel *C.char
	if label != nil {
		if clabel, err = goCString(*label, "label"); err != nil {
			return nil, err
		}
	}
	var m *Model
	err = r.with(func(p *C.inferkit_registry) error {
		var mp *C.inferkit_model
		var v C.uint64_t
		var cerr *C.inferkit_error
		if err := takeError(C.inferkit_registry_model(p, cname, C.uint64_t(version), clabel, &mp, &v, &cerr), cerr); err != nil {
			return err
		}
		m = newModel(mp, uint64(v))
		return nil
	})
	return m, err
}

// Model selects the default version of a model: the newest ready version its policy serves.
// The caller closes the returned Model; it stays on its version across reloads.
func (r *Registry) Model(name string) (*Model, error) { return r.selectModel(name, 0, nil) }

// Version selects a version of a model by number (ErrUnknownVersion when it is not ready).
func (r *Registry) Version(name string, version uint64) (*Model, error) {
	if version == 0 {
		return nil, errorf(CodeInvalidArgument, "version numbers start at 1")
	}
	return r.selectModel(name, version, nil)
}

// Label selects the version a label points at (ErrUnknownLabel for a label not defined).
func (r *Registry) Label(name, label string) (*Model, error) {
	return r.selectModel(name, 0, &label)
}

// Route selects a version through the model's traffic split: the same routing key always gets
// the same version while the split and the versions stay the same; "" picks at random by
// weight. A model without a split serves its default version.
func (r *Registry) Route(name, routingKey string) (*Model, error) {
	cname, err := goCString(name, "model name")
	if err != nil {
		return nil, err
	}
	var ckey *C.char
	if routingKey != "" {
		if ckey, err = goCString(routingKey, "routing key"); err != nil {
			return nil, err
		}
	}
	var m *Model
	err = r.with(func(p *C.inferkit_registry) error {
		var mp *C.inferkit_model
		var v C.uint64_t
		var cerr *C.inferkit_error
		if err := takeError(C.inferkit_registry_route(p, cname, ckey, &mp, &v, &cerr), cerr); err != nil {
			return err
		}
		m = newModel(mp, uint64(v))
		return nil
	})
	return m, err
}

// SetLabel points a label at a ready version, atomically for concurrent requests
// (ErrVersionNotReady otherwise).
func (r *Registry) SetLabel(name, label string, version uint64) error {
	cname, err := goCString(name, "model name")
	if err != nil {
		return err
	}
	clabel, err := goCString(label, "label")
	if err != nil {
		return err
	}
	return r.with(func(p *C.inferkit_registry) error {
		var cerr *C.inferkit_error
		return takeError(C.inferkit_registry_set_label(p, cname, clabel, C.uint64_t(version), &cerr), cerr)
	})
}

// Load loads (or reloads) a model from the repository. Versions that fail are reported by
// StatusJSON, not here.
func (r *Registry) Load(name string) error {
	return r.nameCall(name, func(p *C.inferkit_registry, n *C.char, e **C.inferkit_error) C.inferkit_status {
		return C.inferkit_registry_load(p, n, e)
	})
}

// Unload unloads a model; requests in flight finish and selected Models stay valid.
func (r *Registry) Unload(name string) error {
	return r.nameCall(name, func(p *C.inferkit_registry, n *C.char, e **C.inferkit_error) C.inferkit_status {
		return C.inferkit_registry_unload(p, n, e)
	})
}

// UnloadVersion unloads one version; with force it also removes the labels pointing at it
// (without, such a version is refused with ErrLabelInUse).
func (r *Registry) UnloadVersion(name string, version uint64, force bool) error {
	return r.nameCall(name, func(p *C.inferkit_registry, n *C.char, e **C.inferkit_error) C.inferkit_status {
		return C.inferkit_registry_unload_version(p, n, C.uint64_t(version), C.bool(force), e)
	})
}

func (r *Registry) nameCall(name string, f func(*C.inferkit_registry, *C.char, **C.inferkit_error) C.inferkit_status) error {
	cname, err := goCString(name, "model name")
	if err != nil {
		return err
	}
	return r.with(func(p *C.inferkit_registry) error {
		var cerr *C.inferkit_error
		return takeError(f(p, cname, &cerr), cerr)
	})
}

// Reload re-scans the repository: new versions are loaded and warmed before they become
// selectable. It returns how many models or versions failed (StatusJSON says why).
func (r *Registry) Reload() (failures int, err error) {
	err = r.with(func(p *C.inferkit_registry) error {
		var n C.size_t
		var cerr *C.inferkit_error
		e := takeError(C.inferkit_registry_reload(p, &n, &cerr), cerr)
		failures = int(n)
		return e
	})
	return failures, err
}

// StatusJSON returns the status of every model as JSON: [{"name", "versions": [{"version",
// "state", "reason"?}], "labels": {label: version}, "default_version"}].
func (r *Registry) StatusJSON() (string, error) {
	var text string
	err := r.with(func(p *C.inferkit_registry) (err error) {
		text, err = ownedText(func(s **C.char, e **C.inferkit_error) C.inferkit_status {
			return C.inferkit_registry_status_json(p, s, e)
		})
		return err
	})
	return text, err
}

// MetricsPrometheus returns the metrics of every model version in the registry, with load,
// failure and unload events, in the Prometheus text format.
func (r *Registry) MetricsPrometheus() (string, error) {
	var text string
	err := r.with(func(p *C.inferkit_registry) (err error) {
		text, err = ownedText(func(s **C.char, e **C.inferkit_error) C.inferkit_status {
			return C.inferkit_registry_metrics_prometheus(p, s, e)
		})
		return err
	})
	return text, err
}
