// Command inferkit-serve is a small HTTP inference service over an inferkit model repository.
//
//	go run . -models ../models -addr :8080
//
//	curl -s localhost:8080/v1/models/classifier/infer?label=stable \
//	  -d '{"inputs": {"x": {"shape": [1, 16], "data": [0.1, 0.2, ...]}}}'
//
// Endpoints:
//
//	POST /v1/models/{name}/infer  JSON {"inputs": {name: {"shape": [...], "data": [...]}},
//	                              "outputs": [names]?} -> {"model", "version", "outputs":
//	                              {name: {"dtype", "shape", "data"}}, "classes"?}. Query:
//	                              version=N, label=L or key=K (a routing key for the traffic
//	                              split); none: the default version. timeout_ms=N bounds the
//	                              request. A client that disconnects cancels its request.
//	GET  /v1/models               the repository's status (JSON)
//	GET  /metrics                 Prometheus metrics: inferkit's and the Go runtime's
//
// SIGINT or SIGTERM stops it gracefully: requests in flight finish, then the repository closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], nil); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx is done, then shuts down gracefully: requests in flight finish, then the
// repository closes. ready, if not nil, receives the address listened on.
func run(ctx context.Context, args []string, ready chan<- string) error {
	flags := flag.NewFlagSet("inferkit-serve", flag.ContinueOnError)
	models := flags.String("models", "../models", "the model repository (<root>/<model>/<version>/model.onnx)")
	addr := flags.String("addr", ":8080", "listen address")
	poll := flags.Duration("poll", 0, "re-scan the repository at this interval (0: never)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	var opts []inferkit.RegistryOption
	if *poll > 0 {
		opts = append(opts, inferkit.WithPollInterval(*poll))
	}
	reg, err := inferkit.OpenRegistry(*models, opts...)
	if err != nil {
		return fmt.Errorf("open %s: %w", *models, err)
	}
	defer reg.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: NewServer(reg), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		log.Print("shutting down")
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(shutdown)
	}()
	log.Printf("serving %s on %s (inferkit %s, ONNX Runtime %s)", *models, ln.Addr(), inferkit.Version(), inferkit.RuntimeVersion())
	if ready != nil {
		ready <- ln.Addr().String()
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-done
}
