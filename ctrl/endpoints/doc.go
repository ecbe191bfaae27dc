// Package endpoints is the Endpoints controller: for each Service with a
// selector it keeps an Endpoints object of the same name listing the pods
// the selector matches that are bound to a node and not terminating, each
// with its node, the node's Mesh address and whether it is Ready.
//
// A pod being deleted leaves the Endpoints as soon as its deletion
// timestamp is set, while its node still lets it finish (its grace
// period), so no new request is routed to a pod that is about to stop.
//
// It imports only api, client and ctrl.
package endpoints
