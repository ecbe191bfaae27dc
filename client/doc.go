// Package client is the typed Go client of the wask API, and the only way
// the scheduler, the controllers, the wasmlet and the mesh proxy reach the
// cluster: a Connect client with the cluster's CA and a bearer token
// (Client), generic typed calls (Get, List, Create, ...), informers that
// keep a list+watch cache of one kind (Informer), and a deduplicating,
// rate-limited work queue for level-based controllers (Queue).
//
// It imports only the API package.
package client
