package deployment

import (
	"encoding/binary"
	"hash/fnv"
	"strconv"

	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
)

// HashLabel is the label a ReplicaSet and its pods carry with the hash of
// their template.
const HashLabel = "pod-template-hash"

// RevisionAnnotation on a ReplicaSet is the revision it was last rolled
// out as ("1", "2", ...).
const RevisionAnnotation = "deployment.wask.dev/revision"

// safeAlphabet has no vowels, so hashes never spell words.
const safeAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// TemplateHash returns the hash naming a template's ReplicaSet. collisions
// is the Deployment's status.collisionCount.
func TemplateHash(t *waskv1.PodTemplateSpec, collisions int32) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(stripHash(t))
	if err != nil {
		panic(err) // a valid message always marshals
	}
	h := fnv.New32a()
	h.Write(b)
	if collisions > 0 {
		h.Write(binary.LittleEndian.AppendUint32(nil, uint32(collisions)))
	}
	out := []byte{}
	for v := h.Sum32(); len(out) < 7; v /= uint32(len(safeAlphabet)) {
		out = append(out, safeAlphabet[v%uint32(len(safeAlphabet))])
	}
	return string(out)
}

// stripHash returns a copy of t without the hash label.
func stripHash(t *waskv1.PodTemplateSpec) *waskv1.PodTemplateSpec {
	c := proto.CloneOf(t)
	if c == nil {
		c = &waskv1.PodTemplateSpec{}
	}
	if c.Metadata != nil {
		delete(c.Metadata.Labels, HashLabel)
		if len(c.Metadata.Labels) == 0 {
			c.Metadata.Labels = nil
		}
	}
	return c
}

// SameTemplate reports whether two templates are equal but for the hash
// label.
func SameTemplate(a, b *waskv1.PodTemplateSpec) bool {
	return proto.Equal(stripHash(a), stripHash(b))
}

// Revision returns a ReplicaSet's revision, 0 if it has none.
func Revision(rs *waskv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.GetMetadata().GetAnnotations()[RevisionAnnotation], 10, 64)
	return n
}

// StripHash returns a copy of a ReplicaSet's template as a Deployment's
// template: without the hash label (what `rollout undo` writes back).
func StripHash(t *waskv1.PodTemplateSpec) *waskv1.PodTemplateSpec { return stripHash(t) }
