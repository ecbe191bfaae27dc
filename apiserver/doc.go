// Package apiserver serves wask.v1.ObjectService and wask.v1.ModuleService
// on top of the store, and wask.v1.LogService by proxying to the pods'
// nodes (logs.go): it is the only door to the store and the only package
// that imports it.
//
// For every request it validates, admits, writes or reads the store, and
// translates store errors into Connect codes (errors.go is the one place
// where that happens). It owns:
//
//   - the kind registry (kinds.go): which kinds exist, which are namespaced,
//     and their store keys: /registry/<plural>/<namespace>/<name>, or
//     /registry/<plural>/<name> for the cluster-scoped kinds (Namespace,
//     Node, Module);
//   - the stored form of an object: the kind's message (not the Object
//     wrapper) marshalled deterministically with metadata.revision cleared;
//     the revision is the key's store ModRevision, filled in on every read;
//   - validation (validate*.go), label and field selectors, Kubernetes
//     quantities, list pagination tokens, watch translation and bookmarks,
//     and the scheduler's Bind;
//   - the watch fan-out (fanout.go): one store watch per watched kind,
//     each change translated once for every Watch stream;
//   - the wire form of stored objects (wire.go): List and Watch send the
//     stored bytes with api_version, kind and metadata.revision spliced
//     in, without decoding them;
//   - module blobs (blobs.go, modules.go): Push writes the bytes to
//     <ModuleDir>/sha256/<hex> (temp file, fsync, rename, fsync of the
//     directory, so a blob is whole or absent), checks them with the
//     injected Config.InspectModule, then records the Module object in the
//     store. Only Push writes Modules. A blob without a Module (a crash
//     between the two) is harmless and is reused by the next push.
//
// Namespaces: an object may be created in a namespace only if its Namespace
// object exists and is not terminating; "default" is the exception and is
// always accepted, even before a Namespace "default" object exists. An empty
// metadata.namespace of a namespaced kind means "default".
//
// It may import only api/wask/v1 and store of this module (deps_test.go at the
// repository root enforces ARCHITECTURE.md's table). TLS, authentication,
// metrics, health and reflection wrap the handler from outside: Handler takes
// connect.HandlerOption values (e.g. interceptors) for that, as does
// ModuleHandler; HTTPHandler and Serve assemble the whole server.
package apiserver
