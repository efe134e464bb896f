#!/usr/bin/env bash
# Creates the local kind cluster `vpm-mini` (infra/kind-dev/kind-cluster.yaml), installs Knative
# Serving + Kourier at pinned versions with request metrics on, Prometheus scraping every queue-proxy
# (infra/monitoring/prometheus.yaml), applies the hello KService (infra/k8s/overlays/dev/hello-ksvc.yaml)
# and waits until it is READY.
#
# Knative versions: vpm's Prometheus gate reads every generation of queue-proxy metrics — Knative <= 1.18
# (revision_request_count / revision_request_latencies in ms), 1.19.0's interim OTel names, and >= 1.19
# (kn_serving_invocation_duration_seconds); >= 1.19 exports request metrics only when
# config-observability's request-metrics-protocol is set, which this script does.
#
#   scripts/bootstrap-kind-knative.sh            # create (or reuse) and install
#   scripts/bootstrap-kind-knative.sh --recreate # delete the cluster first
#
# Needs Docker, kind and kubectl. Versions can be overridden:
#   KNATIVE_SERVING_VERSION=knative-v1.19.0 KOURIER_VERSION=knative-v1.19.0 READY_TIMEOUT=300s
set -euo pipefail

KNATIVE_SERVING_VERSION="${KNATIVE_SERVING_VERSION:-knative-v1.19.0}"
KOURIER_VERSION="${KOURIER_VERSION:-knative-v1.19.0}"
CLUSTER_NAME="${CLUSTER_NAME:-vpm-mini}"
READY_TIMEOUT="${READY_TIMEOUT:-300s}"
# The NodePort that infra/kind-dev/kind-cluster.yaml maps to localhost:8080.
KOURIER_NODEPORT=31080
KOURIER_NODEPORT_TLS=31443

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind_config="${repo_root}/infra/kind-dev/kind-cluster.yaml"
hello_ksvc="${repo_root}/infra/k8s/overlays/dev/hello-ksvc.yaml"
prometheus="${repo_root}/infra/monitoring/prometheus.yaml"

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() {
  printf '[bootstrap] error: %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '[bootstrap] fix: %s\n' "$2" >&2
  exit 1
}

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

recreate=0
for arg in "$@"; do
  case "$arg" in
    --recreate) recreate=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument: $arg" "run with --help" ;;
  esac
done

# --- prerequisites --------------------------------------------------------------------------------
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but was not found on PATH" "$2"
}
need docker "install Docker: https://docs.docker.com/engine/install/"
need kind "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
need kubectl "install kubectl: https://kubernetes.io/docs/tasks/tools/"
docker info >/dev/null 2>&1 ||
  die "Docker is installed but not usable (daemon not running, or no permission)" "start Docker, or add your user to the docker group and log in again"
[ -f "$kind_config" ] || die "missing ${kind_config}" "run this script from a vpm checkout"
[ -f "$hello_ksvc" ] || die "missing ${hello_ksvc}" "run this script from a vpm checkout"

ctx="kind-${CLUSTER_NAME}"
k() { kubectl --context "$ctx" "$@"; }

# Retries a command (e.g. applying manifests while webhooks are still starting).
retry() {
  local attempts=$1 delay=$2 n=1
  shift 2
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      return 1
    fi
    log "retrying in ${delay}s ($n/$attempts): $*"
    sleep "$delay"
    n=$((n + 1))
  done
}

# --- cluster --------------------------------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  if [ "$recreate" = 1 ]; then
    log "deleting kind cluster ${CLUSTER_NAME}"
    kind delete cluster --name "$CLUSTER_NAME"
  else
    log "kind cluster ${CLUSTER_NAME} exists; reusing it (--recreate to start over)"
  fi
fi
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  log "creating kind cluster ${CLUSTER_NAME}"
  kind create cluster --name "$CLUSTER_NAME" --config "$kind_config" --wait 120s
fi

# --- Knative Serving + Kourier --------------------------------------------------------------------
serving="https://github.com/knative/serving/releases/download/${KNATIVE_SERVING_VERSION}"
kourier="https://github.com/knative/net-kourier/releases/download/${KOURIER_VERSION}/kourier.yaml"

log "installing Knative Serving ${KNATIVE_SERVING_VERSION}"
retry 3 5 k apply -f "${serving}/serving-crds.yaml"
k wait --for=condition=Established --timeout=60s crd/services.serving.knative.dev
retry 3 5 k apply -f "${serving}/serving-core.yaml"

# Request metrics (count, latency, status code per revision) are what the canary gates read.
k patch configmap/config-observability -n knative-serving --type merge \
  -p '{"data":{"request-metrics-protocol":"prometheus","metrics.request-metrics-backend-destination":"prometheus"}}'

log "installing Kourier ${KOURIER_VERSION}"
retry 3 5 k apply -f "$kourier"
k patch configmap/config-network -n knative-serving --type merge \
  -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'
# kind has no LoadBalancer: expose Kourier on the NodePorts mapped by the kind config (strategic
# merge keyed by port, so both ports keep their other fields).
k patch service/kourier -n kourier-system \
  -p "{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":${KOURIER_NODEPORT}},{\"port\":443,\"nodePort\":${KOURIER_NODEPORT_TLS}}]}}"
# Route hostnames that resolve to 127.0.0.1 (sslip.io), reachable through the port mapping.
k patch configmap/config-domain -n knative-serving --type merge -p '{"data":{"127.0.0.1.sslip.io":""}}'

log "waiting for Knative Serving and Kourier"
k wait --for=condition=Available deployment --all -n knative-serving --timeout="$READY_TIMEOUT"
k wait --for=condition=Available deployment --all -n kourier-system --timeout="$READY_TIMEOUT"

log "installing Prometheus (scrapes the queue-proxies every 5 s)"
retry 3 5 k apply -f "$prometheus"
k wait --for=condition=Available deployment/prometheus -n monitoring --timeout="$READY_TIMEOUT"

# --- hello ----------------------------------------------------------------------------------------
log "applying ${hello_ksvc#"${repo_root}"/}"
retry 5 5 k apply -f "$hello_ksvc"
log "waiting for ksvc/hello to be READY (up to ${READY_TIMEOUT})"
if ! k wait --for=condition=Ready ksvc/hello -n default --timeout="$READY_TIMEOUT"; then
  k get ksvc hello -n default -o wide >&2 || true
  die "ksvc/hello did not become READY within ${READY_TIMEOUT}" "inspect: kubectl --context ${ctx} describe ksvc hello; kubectl --context ${ctx} get pods -A"
fi

url="$(k get ksvc hello -n default -o jsonpath='{.status.url}')"
host="${url#http://}"
log "ready: ${url}"
printf 'kubectl context: %s\nhello: %s\ntry:   curl -H "Host: %s" http://127.0.0.1:8080/\n' "$ctx" "$url" "$host"
printf 'for vpm: export VPM_INGRESS_URL=http://127.0.0.1:8080\n'
printf 'Prometheus: kubectl --context %s port-forward -n monitoring svc/prometheus 9090 & export VPM_PROMETHEUS_URL=http://127.0.0.1:9090\n' "$ctx"
