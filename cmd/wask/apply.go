package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/client"
	"github.com/wask-dev/wask/internal/manifest"
)

func newApplyCmd(e *env) *cobra.Command {
	var files []string
	var namespace string
	c := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create or update objects from manifests",
		Long: `Create or update objects from YAML or JSON manifests (several documents per file allowed).

A pod template's module may name a local .wasm file (relative to the manifest); apply pushes it
and uses its digest.`,
		Example: `  wask apply -f deploy.yaml
  wask apply -f manifests/
  cat deploy.yaml | wask apply -f -`,
		Args: argsRange(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return usagef("apply needs -f FILE, DIR or -")
			}
			docs, err := e.readManifests(files)
			if err != nil {
				return err
			}
			cl, err := e.dial()
			if err != nil {
				return err
			}
			for _, d := range docs {
				if err := e.applyOne(c.Context(), cl, d, namespace); err != nil {
					return explain(cl, err)
				}
			}
			return nil
		},
	}
	c.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory (its .yaml, .yml and .json files) or - for standard input")
	addNamespaceFlags(c, &namespace, nil)
	return c
}

// document is one decoded object and the file it came from.
type document struct {
	obj  *waskv1.Object
	file string // "" for standard input
}

func (e *env) readManifests(paths []string) ([]document, error) {
	var docs []document
	read := func(r io.Reader, name string) error {
		objs, err := manifest.Decode(r, name)
		if err != nil {
			return err
		}
		for _, o := range objs {
			docs = append(docs, document{obj: o, file: name})
		}
		return nil
	}
	for _, p := range paths {
		if p == "-" {
			if err := read(e.stdin, ""); err != nil {
				return nil, err
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if st.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			files = nil
			for _, ent := range entries {
				switch filepath.Ext(ent.Name()) {
				case ".yaml", ".yml", ".json":
					files = append(files, filepath.Join(p, ent.Name()))
				}
			}
			sort.Strings(files)
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				return nil, err
			}
			err = read(fh, f)
			fh.Close()
			if err != nil {
				return nil, err
			}
		}
	}
	return docs, nil
}

func (e *env) applyOne(ctx context.Context, cl *client.Client, d document, namespace string) error {
	info, _ := d.obj.Info()
	md := d.obj.Metadata()
	if md == nil || md.GetName() == "" {
		return fmt.Errorf("%s: %s: metadata.name: required", orStdin(d.file), info.Kind)
	}
	if info.Namespaced && md.GetNamespace() == "" {
		md.Namespace = namespaceFor(info, namespace, false)
	}
	if err := e.pushLocalModules(ctx, cl, d); err != nil {
		return err
	}
	ref := strings.ToLower(info.Kind) + "/" + md.GetName()
	got, err := cl.Objects.Get(ctx, connect.NewRequest(&waskv1.GetRequest{Kind: info.Kind, Namespace: md.GetNamespace(), Name: md.GetName()}))
	if connect.CodeOf(err) == connect.CodeNotFound {
		setAnnotation(md, lastAppliedAnnotation, intentHash(d.obj))
		if _, err := cl.Objects.Create(ctx, connect.NewRequest(&waskv1.CreateRequest{Object: d.obj})); err != nil {
			return fmt.Errorf("create %s: %w", ref, err)
		}
		fmt.Fprintf(e.stdout, "%s created\n", ref)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", ref, err)
	}
	current := got.Msg.GetObject()
	applied := intentHash(d.obj)
	if current.Metadata().GetAnnotations()[lastAppliedAnnotation] == applied || sameIntent(current, d.obj) {
		fmt.Fprintf(e.stdout, "%s unchanged\n", ref)
		return nil
	}
	setAnnotation(md, lastAppliedAnnotation, applied)
	// Apply replaces what the manifest sets, conditional on the revision
	// just read, so a concurrent change is reported, not overwritten.
	md.Revision = current.Metadata().GetRevision()
	if _, err := cl.Objects.Update(ctx, connect.NewRequest(&waskv1.UpdateRequest{Object: d.obj})); err != nil {
		return fmt.Errorf("update %s: %w", ref, err)
	}
	fmt.Fprintf(e.stdout, "%s configured\n", ref)
	return nil
}

// lastAppliedAnnotation records a hash of what the last apply set (labels,
// annotations, spec), so re-applying an unchanged manifest is "unchanged"
// although the server filled in defaults — as kubectl's
// last-applied-configuration.
const lastAppliedAnnotation = "wask.dev/last-applied"

// intentHash hashes what a manifest sets.
func intentHash(o *waskv1.Object) string {
	md := o.Metadata()
	ann := make(map[string]string, len(md.GetAnnotations()))
	for k, v := range md.GetAnnotations() {
		if k != lastAppliedAnnotation {
			ann[k] = v
		}
	}
	r := o.Unwrap().ProtoReflect()
	var spec []byte
	if fd := r.Descriptor().Fields().ByName("spec"); fd != nil && r.Has(fd) {
		spec, _ = proto.MarshalOptions{Deterministic: true}.Marshal(r.Get(fd).Message().Interface())
	}
	meta, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&waskv1.ObjectMeta{Labels: md.GetLabels(), Annotations: ann})
	sum := sha256.Sum256(append(append(meta, 0xff), spec...))
	return hex.EncodeToString(sum[:16])
}

func setAnnotation(md *waskv1.ObjectMeta, key, value string) {
	if md.Annotations == nil {
		md.Annotations = map[string]string{}
	}
	md.Annotations[key] = value
}

// sameIntent compares what a manifest sets — labels, annotations, spec —
// with the stored object.
func sameIntent(stored, applied *waskv1.Object) bool {
	a, b := stored.Metadata(), applied.Metadata()
	if !proto.Equal(&waskv1.ObjectMeta{Labels: a.GetLabels(), Annotations: a.GetAnnotations()},
		&waskv1.ObjectMeta{Labels: b.GetLabels(), Annotations: b.GetAnnotations()}) {
		return false
	}
	sf := stored.Unwrap().ProtoReflect()
	af := applied.Unwrap().ProtoReflect()
	spec := sf.Descriptor().Fields().ByName("spec")
	if spec == nil {
		return false // kinds without spec: always update
	}
	return proto.Equal(sf.Get(spec).Message().Interface(), af.Get(spec).Message().Interface())
}

// podSpecs returns the pod specs inside an object (a Pod's, or a
// workload's template).
func podSpecs(o *waskv1.Object) []*waskv1.PodSpec {
	switch {
	case o.GetPod() != nil:
		return []*waskv1.PodSpec{o.GetPod().GetSpec()}
	case o.GetDeployment() != nil:
		return []*waskv1.PodSpec{o.GetDeployment().GetSpec().GetTemplate().GetSpec()}
	case o.GetReplicaSet() != nil:
		return []*waskv1.PodSpec{o.GetReplicaSet().GetSpec().GetTemplate().GetSpec()}
	case o.GetJob() != nil:
		return []*waskv1.PodSpec{o.GetJob().GetSpec().GetTemplate().GetSpec()}
	}
	return nil
}

// isLocalModule says whether a module reference names a file rather than
// a digest or a Module object.
func isLocalModule(ref string) bool {
	return strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") || strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, ".wasm")
}

func (e *env) pushLocalModules(ctx context.Context, cl *client.Client, d document) error {
	for _, spec := range podSpecs(d.obj) {
		if spec == nil || !isLocalModule(spec.GetModule()) {
			continue
		}
		path := spec.GetModule()
		if !filepath.IsAbs(path) && d.file != "" {
			path = filepath.Join(filepath.Dir(d.file), path)
		}
		m, err := pushModule(ctx, cl, path, "", nil)
		if err != nil {
			return fmt.Errorf("%s: module %s: %w", orStdin(d.file), spec.GetModule(), err)
		}
		spec.Module = m.GetSpec().GetDigest()
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func orStdin(file string) string {
	if file == "" {
		return "<stdin>"
	}
	return file
}
