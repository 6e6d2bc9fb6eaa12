// Command pbproxy is a round-robin reverse proxy in front of several projectboard instances
// of one cluster (see scripts/internal/rrproxy): each request goes to the next instance,
// websockets included, and an instance that refuses connections is skipped until its
// /healthz answers again.
//
//	go run ./scripts/pbproxy --listen 127.0.0.1:8080 \
//	  --backends http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083
//
// Start the instances with --trusted-proxies 127.0.0.1 so that they take the client's address
// from the X-Forwarded-For the proxy adds. The proxy keeps the client's Host header, so the
// instances' origin check passes without --allowed-origins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"projectboard/scripts/internal/rrproxy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pbproxy:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	f := flag.NewFlagSet("pbproxy", flag.ContinueOnError)
	listen := f.String("listen", "127.0.0.1:8080", "address to listen on")
	backends := f.String("backends", "", "comma-separated instance URLs, e.g. http://127.0.0.1:8081,http://127.0.0.1:8082 (required)")
	interval := f.Duration("check-interval", rrproxy.DefaultCheckInterval, "how often every instance's /healthz is asked")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", f.Args())
	}
	if *backends == "" {
		return errors.New("--backends is required: the instances' URLs, comma-separated")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p, err := rrproxy.New(strings.Split(*backends, ","), rrproxy.Options{CheckInterval: *interval, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("%w (is another proxy or server on it? choose another --listen)", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go p.Run(ctx)
	// No write timeout: a websocket through the proxy lasts as long as the screen.
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("pbproxy is running", "url", "http://"+ln.Addr().String()+"/", "backends", *backends)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Shutdown waits for plain requests; websockets (hijacked) end when the instances close them.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
