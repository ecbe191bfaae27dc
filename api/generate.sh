#!/usr/bin/env bash
# Regenerates the Go code for the wask API from api/wask/v1/*.proto.
#
#   api/generate.sh [OUT_DIR]
#
# OUT_DIR defaults to api/ itself, so the generated files land next to the .proto files
# (api/wask/v1/*.pb.go and api/wask/v1/waskv1connect/*.connect.go). Needs protoc on PATH
# (Debian: apt-get install protobuf-compiler); the plugins are the `tool` lines of go.mod, at the
# versions go.mod pins, run through `go tool`.
set -euo pipefail

api_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${1:-$api_dir}"
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"

cd "$api_dir"
# `go tool -n` builds the tool if needed and prints the path of its binary.
protoc_gen_go="$(go tool -n protoc-gen-go)"
protoc_gen_connect_go="$(go tool -n protoc-gen-connect-go)"

protoc \
  --proto_path=. \
  --plugin=protoc-gen-go="$protoc_gen_go" \
  --plugin=protoc-gen-connect-go="$protoc_gen_connect_go" \
  --go_out="$out_dir" --go_opt=paths=source_relative \
  --connect-go_out="$out_dir" --connect-go_opt=paths=source_relative \
  wask/v1/*.proto
