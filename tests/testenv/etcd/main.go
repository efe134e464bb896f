// Command etcd is etcd's own main, linked from the Go module proxy for the vpm test environment.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
