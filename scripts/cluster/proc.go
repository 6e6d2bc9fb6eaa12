package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"projectboard/scripts/internal/harness"
)

// stopGrace is how long a child has after SIGTERM before it is killed.
const stopGrace = 15 * time.Second

// proc is one child process: an etcd member or an instance.
type proc struct {
	name    string // "instance 1", "etcd m0"
	url     string // where it answers: the instance's own address, the member's client URL
	health  string // the URL that answers 200 once it is ready
	log     string // its standard output and error
	ifDies  string // what a death means for the demo, printed when it happens
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // how it ended, set before done is closed
}

// start runs the command with its output in p.log and reaps it in the background.
func (p *proc) start(args []string, env []string) error {
	out, err := os.Create(p.log)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own descriptor
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.done = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// waitReady waits until p.health answers 200, and fails at once if the process exits.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	err := harness.WaitOK(ctx, p.health, p.done, time.Now().Add(timeout), 100*time.Millisecond)
	switch err {
	case nil:
		return nil
	case harness.ErrExited:
		return fmt.Errorf("%s exited while starting (%v): see %s", p.name, p.waitErr, p.log)
	case harness.ErrTimeout:
		return fmt.Errorf("%s: %s did not answer within %s: see %s", p.name, p.health, timeout, p.log)
	default:
		return err
	}
}

// stop sends SIGTERM, waits up to stopGrace and then kills.
func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		fmt.Fprintf(os.Stderr, "%s did not stop within %s of SIGTERM: killing it\n", p.name, stopGrace)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// stopAll stops the processes in parallel and returns when all have ended.
func stopAll(ps []*proc) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// readyAll waits for every process in parallel; the error names each that failed.
func readyAll(ctx context.Context, ps []*proc, timeout time.Duration) error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.waitReady(ctx, timeout) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
