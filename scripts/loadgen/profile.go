package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"time"
)

// profilePath is where a profile of this run goes: base with the target and run number
// before its extension (perf.data → perf.ours.1.data).
func (r *runner) profilePath(base string) string {
	ext := filepath.Ext(base)
	return fmt.Sprintf("%s.%s.%d%s", strings.TrimSuffix(base, ext), r.kind, r.round, ext)
}

// profiles are the Go CPU profiles (or, with --trace, execution traces) of one measured
// phase: the server's, fetched from its /debug/pprof, and loadgen's own (the clients' side),
// for --pprof-seconds each.
type profiles struct {
	wg   sync.WaitGroup
	logf func(string, ...any)
}

// startProfiles starts both profiles if --pprof asks for them (nil otherwise).
func (r *runner) startProfiles(ctx context.Context) *profiles {
	if r.o.pprof == "" {
		return nil
	}
	p := &profiles{logf: r.logf}
	secs := r.o.pprofSecs
	kind, ext := "profile", "pprof"
	if r.o.trace {
		kind, ext = "trace", "trace"
	}
	name := func(side string) string {
		return filepath.Join(r.o.pprof, fmt.Sprintf("%s.%d.%s.%s", r.kind, r.round, side, ext))
	}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", r.pprofAddr, kind, secs)
		if err := fetchTo(ctx, url, name("server"), time.Duration(secs+30)*time.Second); err != nil {
			p.logf("%s: server profile: %v", r.kind, err)
		}
	}()
	go func() {
		defer p.wg.Done()
		f, err := os.Create(name("loadgen"))
		if err != nil {
			p.logf("loadgen profile: %v", err)
			return
		}
		defer f.Close()
		start, stop := pprof.StartCPUProfile, pprof.StopCPUProfile
		if r.o.trace {
			start, stop = trace.Start, trace.Stop
		}
		if err := start(f); err != nil {
			p.logf("loadgen profile: %v", err)
			return
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-ctx.Done():
		}
		stop()
	}()
	return p
}

// wait waits until both profiles are written.
func (p *profiles) wait() {
	if p != nil {
		p.wg.Wait()
	}
}

func fetchTo(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("GET %s: %d %s", url, res.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
