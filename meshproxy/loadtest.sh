#!/usr/bin/env bash
# The mesh's figures with real processes: a `wask server`, two `wask node`s
# (n1, n2), one echo pod on each, and wrk as a separate load generator at
# n1's ingress. Service echo-local's pod runs on n1 (in-process call);
# echo-remote's on n2 (over QUIC). Needs wrk (apt-get install wrk).
#
#   meshproxy/loadtest.sh [DURATION]      # default 10s per run
#
# NODE_GOMAXPROCS sets the nodes' GOMAXPROCS; PROFILE=DIR saves both nodes'
# CPU profiles (n1.pprof, n2.pprof) taken during the cross-node 1-connection run.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
command -v wrk >/dev/null || { echo "loadtest: needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "building wask and the echo guest..." >&2
go build -o "$tmp/wask" ./cmd/wask
GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$tmp/echo.wasm" ./wasm-samples/echo

"$tmp/wask" server --data-dir "$tmp/server" --api-addr 127.0.0.1:0 --log-level warn 2>"$tmp/server.log" &
pids+=($!)
for _ in $(seq 200); do [ -f "$tmp/server/admin.yaml" ] && break; sleep 0.05; done
server=$(sed -n 's/^server: //p' "$tmp/server/admin.yaml")
export WASK_CONFIG="$tmp/server/admin.yaml"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ingress1=127.0.0.1:$(port)
declare -A metrics=([n1]=127.0.0.1:$(port) [n2]=127.0.0.1:$(port))   # /metrics and /debug/pprof/
for n in n1 n2; do
  ingress=127.0.0.1:0
  [ $n = n1 ] && ingress=$ingress1
  GOMAXPROCS=${NODE_GOMAXPROCS:-} "$tmp/wask" node --server "$server" --join-token-file "$tmp/server/node-token" --name $n \
    --data-dir "$tmp/$n" --compile-cache-dir "$tmp/compiled" --ingress-addr "$ingress" \
    --mesh-addr 127.0.0.1:0 --metrics-addr "${metrics[$n]}" --log-level warn >"$tmp/$n.log" 2>&1 &
  pids+=($!)
done

{
  for where in local:n1 remote:n2; do
    name=echo-${where%%:*} node=${where##*:}
    cat <<YAML
apiVersion: wask.dev/v1
kind: Service
metadata: {name: $name}
spec: {selector: {app: $name}}
---
apiVersion: wask.dev/v1
kind: Pod
metadata: {name: $name, labels: {app: $name}}
spec:
  module: $tmp/echo.wasm
  mode: http-reactor
  nodeName: $node
  resources: {limits: {memory: 64Mi, timeout: 5s}}
---
YAML
  done
} >"$tmp/echo.yaml"
for _ in $(seq 200); do "$tmp/wask" get nodes 2>/dev/null | grep -q n2 && break; sleep 0.05; done
"$tmp/wask" apply -f "$tmp/echo.yaml" >&2
for svc in echo-local echo-remote; do
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $svc.default" "http://$ingress1/")" = 200 ] && break
    sleep 0.05
  done
done

run() { # title, wrk args...
  local title=$1; shift
  echo "== $title"
  wrk -d "$dur" --latency "$@" | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx|Socket errors'
}
run "echo on n1, through n1's ingress (local, 1 connection)" -t1 -c1 -H 'Host: echo-local.default' "http://$ingress1/"
if [ -n "${PROFILE:-}" ]; then
  mkdir -p "$PROFILE"
  for n in n1 n2; do
    curl -s -o "$PROFILE/$n.pprof" "http://${metrics[$n]}/debug/pprof/profile?seconds=5" &
  done
fi
run "echo on n2, through n1's ingress (cross-node, 1 connection)" -t1 -c1 -H 'Host: echo-remote.default' "http://$ingress1/"
run "echo on n1, through n1's ingress (local, 32 connections)" -t2 -c32 -H 'Host: echo-local.default' "http://$ingress1/"
run "echo on n2, through n1's ingress (cross-node, 32 connections)" -t2 -c32 -H 'Host: echo-remote.default' "http://$ingress1/"
