// The test stack's own container images: the pod sandbox and the HTTP app every Knative test deploys.
module vpm.local/testenv/knative/images

go 1.22
