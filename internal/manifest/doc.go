// Package manifest reads and writes objects in their manifest form: YAML or
// JSON documents with apiVersion, kind, metadata, spec and status, the same
// shape as the API's JSON.
//
// Decoding is strict and walks the YAML node tree alongside the message
// descriptor, so every error names the file, the line and the field path
// ("deploy.yaml:12: spec.replica: unknown field"), and scalars are read by
// the field's type: `maxSurge: 1` fills a string field with "1" as a user of
// Kubernetes expects.
package manifest
