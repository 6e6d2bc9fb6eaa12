// Command etcdmember runs one embedded etcd member, configured by flags, as a process of its
// own. Crash tests start several of them and SIGKILL them, which an in-process member (the
// test's own process) cannot suffer; store/etcdlog/etcdtest starts and stops them.
//
// It prints one line, "etcdmember <name> ready <client URL>", on standard output once the
// member serves clients, and exits 0 after a clean close on SIGTERM or SIGINT. Errors go to
// standard error and exit 1; etcd's own log goes to --log-file.
//
//	go run ./scripts/etcdmember --name m0 --data-dir /tmp/m0 \
//	  --client-url http://127.0.0.1:2379 --peer-url http://127.0.0.1:2380 \
//	  --initial-cluster m0=http://127.0.0.1:2380
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "etcdmember:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := embed.NewConfig()
	var clientURL, peerURL, logFile string
	flag.StringVar(&cfg.Name, "name", "", "member name, unique in the cluster (required)")
	flag.StringVar(&cfg.Dir, "data-dir", "", "data directory (required); reused on restart")
	flag.StringVar(&clientURL, "client-url", "", "URL to listen on and advertise for clients (required)")
	flag.StringVar(&peerURL, "peer-url", "", "URL to listen on and advertise for peers (required)")
	flag.StringVar(&cfg.InitialCluster, "initial-cluster", "", "name=peer URL of every member, comma-separated (required)")
	flag.StringVar(&cfg.ClusterState, "initial-cluster-state", embed.ClusterStateFlagNew,
		`"new" to form a cluster, "existing" to join one (a restart on the same data directory)`)
	flag.StringVar(&cfg.InitialClusterToken, "initial-cluster-token", "projectboard", "the same for every member of a cluster")
	flag.StringVar(&logFile, "log-file", "", "etcd's log file, standard error when empty")
	flag.StringVar(&cfg.LogLevel, "log-level", "warn", `etcd's log level ("debug", "info", "warn", "error")`)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	for name, v := range map[string]string{"--name": cfg.Name, "--data-dir": cfg.Dir,
		"--client-url": clientURL, "--peer-url": peerURL, "--initial-cluster": cfg.InitialCluster} {
		if v == "" {
			return fmt.Errorf("%s is required", name)
		}
	}
	cu, err := url.Parse(clientURL)
	if err != nil {
		return fmt.Errorf("--client-url: %w", err)
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return fmt.Errorf("--peer-url: %w", err)
	}
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	cfg.Logger = "zap"
	cfg.LogOutputs = []string{"stderr"}
	if logFile != "" {
		cfg.LogOutputs = []string{logFile}
	}

	// Signals are caught before the member starts, so a SIGTERM during start-up closes it too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return err
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "etcdmember: %s before ready, closing\n", s)
		return nil
	}
	fmt.Printf("etcdmember %s ready %s\n", cfg.Name, cu)

	select {
	case err := <-e.Err():
		return err
	case <-e.Server.StopNotify():
		return fmt.Errorf("member stopped (removed from the cluster?)")
	case <-sig:
		// e.Close (deferred) stops the server, transferring leadership if it leads, and waits
		// for its listeners. A caller that cannot wait sends SIGKILL.
		return nil
	}
}
