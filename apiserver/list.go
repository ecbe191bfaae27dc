package apiserver

import (
	"context"
	"strings"

	"connectrpc.com/connect"

	waskv1 "github.com/wask-dev/wask/api/wask/v1"
	"github.com/wask-dev/wask/store"
)

// listChunk is how many keys List reads from the store at a time while it
// filters.
const listChunk = 500

// List reads the objects of one kind at one revision; see ObjectService.List.
func (s *Server) List(ctx context.Context, req *connect.Request[waskv1.ListRequest]) (*connect.Response[waskv1.ListResponse], error) {
	r := req.Msg
	k, err := kindArg(r.GetKind())
	if err != nil {
		return nil, err
	}
	ns := r.GetNamespace()
	if !k.namespaced {
		ns = ""
	} else if ns != "" {
		if why := checkDNSLabel(ns); why != "" {
			return nil, invalidArgument("namespace: %s", why)
		}
	}
	f, err := parseFilter(k, r.GetLabelSelector(), r.GetFieldSelector())
	if err != nil {
		return nil, err
	}
	if r.GetLimit() < 0 {
		return nil, invalidArgument("limit: must not be negative")
	}
	prefix := k.prefix(ns)
	opts := store.ListOptions{Prefix: []byte(prefix)}
	switch {
	case r.GetContinue() != "" && r.GetRevision() != "":
		return nil, invalidArgument("revision: must be empty with continue (pages are read at the first page's revision)")
	case r.GetContinue() != "":
		tok, err := decodeContinue(r.GetContinue(), prefix)
		if err != nil {
			return nil, err
		}
		opts.Revision, opts.After = tok.Revision, []byte(tok.Key)
	case r.GetRevision() != "":
		if opts.Revision, err = parseRevision(r.GetRevision(), "revision"); err != nil {
			return nil, err
		}
	}
	limit := int(r.GetLimit())
	resp := &waskv1.ListResponse{}
	// The items go out as the stored bytes spliced for the wire (wire.go),
	// never decoded and re-encoded; only a selector needs them decoded.
	var items []byte
	count := 0
	for {
		opts.Limit = listChunk
		if limit > 0 && f.empty() {
			opts.Limit = limit - count
		}
		page, err := s.st.List(ctx, opts)
		if err != nil {
			return nil, translate(err, "list "+k.plural)
		}
		opts.Revision = page.Revision // every chunk at the first one's revision
		if items == nil && len(page.KVs) > 0 {
			items = make([]byte, 0, len(page.KVs)*(len(page.KVs[0].Value)+64))
		}
		for _, kv := range page.KVs {
			if limit > 0 && count == limit {
				// Full, and keys follow: the next page starts after the
				// last key looked at.
				resp.Continue = continueToken{Revision: page.Revision, Key: string(opts.After)}.encode()
				break
			}
			opts.After = kv.Key
			if !strings.HasPrefix(string(kv.Key), prefix) {
				continue
			}
			if !f.empty() {
				m, err := k.decodeKV(kv)
				if err != nil {
					return nil, translate(err, "list "+k.plural)
				}
				if !f.matches(k, m) {
					continue
				}
			}
			if items, err = k.appendListItem(items, kv.Value, kv.ModRevision); err != nil {
				return nil, translate(err, "list "+k.plural)
			}
			count++
		}
		resp.Revision = formatRevision(page.Revision)
		if resp.Continue == "" && page.More && limit > 0 && count == limit {
			resp.Continue = continueToken{Revision: page.Revision, Key: string(opts.After)}.encode()
		}
		if resp.Continue != "" || !page.More {
			return connect.NewResponse(preEncoded(resp, items)), nil
		}
	}
}
