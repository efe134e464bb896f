// Command testapp is the HTTP server every real-Knative test deploys. Its behaviour comes from its
// environment, so a revision with other settings is a real new revision:
//
//	ERROR_RATE  fraction of requests answered 500 (0..1). Deterministic: of every n requests,
//	            round(n*ERROR_RATE) fail, spread evenly, so a test's expectations do not depend on luck.
//	LATENCY_MS  added to every response before it is written.
//	MESSAGE     echoed in the body with the revision name (K_REVISION, set by Knative).
package main

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func envFloat(name string) float64 {
	v, err := strconv.ParseFloat(os.Getenv(name), 64)
	if err != nil || math.IsNaN(v) || v < 0 {
		return 0
	}
	return v
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	errorRate := math.Min(envFloat("ERROR_RATE"), 1)
	latency := time.Duration(envFloat("LATENCY_MS") * float64(time.Millisecond))
	revision := os.Getenv("K_REVISION")
	message := os.Getenv("MESSAGE")
	var served atomic.Int64

	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		n := served.Add(1)
		time.Sleep(latency)
		w.Header().Set("X-Revision", revision)
		// request n fails when the count of failures due by n grows: floor(n*rate) > floor((n-1)*rate)
		if math.Floor(float64(n)*errorRate) > math.Floor(float64(n-1)*errorRate) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "injected failure rev=%s\n", revision)
			return
		}
		fmt.Fprintf(w, "hello %s rev=%s\n", message, revision)
	})
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
