package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"projectboard/store/etcdlog"
)

// EtcdConfig is how an instance reaches the etcd cluster that holds the log of record
// (docs/scale-out.md). No endpoints: a single node on its own file.
type EtcdConfig struct {
	Endpoints          []string
	Prefix             string
	Username, Password string
	CACert, Cert, Key  string // PEM files; any of them turns TLS on
	Timeout            time.Duration
	RebaseEvery        uint64 // entries past the base after which the log is cut (store.Options.RebaseEvery)
	// AdvertiseURL is where the other instances reach this one to forward writes to it.
	AdvertiseURL string
}

func etcdFlags(f flagSet, c *EtcdConfig, endpoints *string) {
	f.str(endpoints, "etcd-endpoints", "", "comma-separated etcd client URLs: run as one instance of a cluster whose log of record is in etcd "+
		"(e.g. https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379; --db is then this instance's view)")
	f.str(&c.Prefix, "etcd-prefix", "/projectboard/", "key prefix of this board's data in etcd (several boards may share a cluster)")
	f.str(&c.Username, "etcd-username", "", "etcd user, when the cluster has authentication on")
	f.str(&c.Password, "etcd-password", "", "that user's password (prefer the variable to the flag: flags show in ps)")
	f.str(&c.CACert, "etcd-cacert", "", "PEM file of the CA that signed the etcd members' certificates (turns TLS on)")
	f.str(&c.Cert, "etcd-cert", "", "PEM client certificate, when the members ask for one")
	f.str(&c.Key, "etcd-key", "", "PEM key of --etcd-cert")
	f.DurationVar(&c.Timeout, "etcd-timeout", 5*time.Second, "how long a write keeps trying while etcd has no leader before it is answered 503")
	f.u64(&c.RebaseEvery, "etcd-rebase-every", 50_000, "once the log in etcd has this many entries past its base, the writing instance makes its view the new base "+
		"and the entries before the previous one are deleted from etcd, which keeps etcd's size bounded")
	f.str(&c.AdvertiseURL, "advertise-url", "", "the URL other instances reach this one at, e.g. http://10.0.0.5:8080 "+
		"(default: http://127.0.0.1 and --addr's port, right when all instances run on one machine)")
}

// advertiseURL is --advertise-url, or the loopback URL of --addr's port.
func advertiseURL(c EtcdConfig, addr string) string {
	if c.AdvertiseURL != "" {
		return strings.TrimRight(c.AdvertiseURL, "/")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// dialEtcd connects to the cluster and checks it answers.
func dialEtcd(c EtcdConfig, log *slog.Logger) (*etcdlog.Log, *clientv3.Client, error) {
	if (c.Cert == "") != (c.Key == "") {
		return nil, nil, errors.New("--etcd-cert and --etcd-key go together")
	}
	var tlsConf *tls.Config
	if c.CACert != "" || c.Cert != "" {
		info := transport.TLSInfo{TrustedCAFile: c.CACert, CertFile: c.Cert, KeyFile: c.Key}
		var err error
		if tlsConf, err = info.ClientConfig(); err != nil {
			return nil, nil, fmt.Errorf("etcd TLS: %w", err)
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: 5 * time.Second,
		Username:    c.Username,
		Password:    c.Password,
		TLS:         tlsConf,
		Logger:      zap.NewNop(), // its own reports are about retries the log already shows
		// Keepalives notice a member that went away without closing the connection.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("etcd %v: %w", c.Endpoints, err)
	}
	log.Info("on an etcd cluster", "endpoints", c.Endpoints, "prefix", c.Prefix, "tls", tlsConf != nil)
	return etcdlog.New(cli, c.Prefix), cli, nil
}
