// Package namespace is the Namespace controller: deleting a namespace
// deletes everything in it.
//
// It puts the finalizer "wask.dev/namespace" on every namespace, so a
// deleted namespace stays Terminating (the apiserver refuses new objects in
// it) while the controller deletes every namespaced object in it; once the
// namespace is empty (confirmed by a live list) it removes the finalizer
// and the namespace goes away. A namespace deleted before it got the
// finalizer has its leftover objects deleted all the same.
//
// It imports only api, client and ctrl.
package namespace
