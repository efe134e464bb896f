// Command ocitar writes a single-layer OCI image layout tarball from static binaries, for
// `ctr images import`: the test stack has no registry, so its images are made here.
//
//	ocitar OUT.tar NAME:TAG ENTRYPOINT SRC:DEST [SRC:DEST...]
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

type object = map[string]any

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocitar:", err)
		os.Exit(1)
	}
}

func layer(files []string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	must(tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch}))
	for _, f := range files {
		src, dest, ok := strings.Cut(f, ":")
		if !ok {
			must(fmt.Errorf("%q is not SRC:DEST", f))
		}
		body, err := os.ReadFile(src)
		must(err)
		must(tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(dest, "/"), Mode: 0o755, Size: int64(len(body)), ModTime: epoch}))
		_, err = tw.Write(body)
		must(err)
	}
	must(tw.Close())
	return buf.Bytes()
}

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: ocitar OUT.tar NAME:TAG ENTRYPOINT SRC:DEST [SRC:DEST...]")
		os.Exit(2)
	}
	out, name, entrypoint := os.Args[1], os.Args[2], os.Args[3]
	layerBytes := layer(os.Args[4:])
	config, err := json.Marshal(object{
		"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
		"config": object{"Entrypoint": []string{entrypoint}, "Env": []string{"PATH=/"}, "User": "65532"},
		"rootfs": object{"type": "layers", "diff_ids": []string{digest(layerBytes)}},
	})
	must(err)
	manifest, err := json.Marshal(object{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": object{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
		"layers": []object{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layerBytes), "size": len(layerBytes)}},
	})
	must(err)
	tag := name[strings.LastIndex(name, ":")+1:]
	index, err := json.Marshal(object{"schemaVersion": 2, "manifests": []object{{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest), "size": len(manifest),
		"annotations": object{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag},
	}}})
	must(err)

	f, err := os.Create(out)
	must(err)
	tw := tar.NewWriter(f)
	add := func(path string, body []byte) {
		must(tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}))
		_, err := tw.Write(body)
		must(err)
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	for _, blob := range [][]byte{layerBytes, config, manifest} {
		add("blobs/sha256/"+digest(blob)[len("sha256:"):], blob)
	}
	must(tw.Close())
	must(f.Close())
}
