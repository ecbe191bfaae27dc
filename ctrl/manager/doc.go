// Package manager runs wask's controllers: while it holds the leader Lease
// (ctrl.Elector) it builds a fresh ctrl.Env, starts the shared informers,
// waits for them to sync and runs every controller; when it loses the lease
// it stops them all before campaigning again, so of several managers only
// one acts at a time.
//
// It imports only api, client, ctrl and the controller packages.
package manager
