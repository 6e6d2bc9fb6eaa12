package server

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// loginThrottle decides, before any password is hashed, whether a login attempt may be
// checked at all. Three limits, each taken atomically when the attempt is reserved:
//
//   - per account: after n wrong passwords in a row the account waits min(base·2^(n-1), max)
//     from the last failure before another attempt is checked, and only one attempt per
//     account is checked at a time. The wait is short (1 s, 2 s, 4 s … 60 s by default), so a
//     stranger's guesses slow the account's owner down for at most a minute, never lock them
//     out for long; they cap guessing at about 1,440 passwords a day per account.
//   - per address: a token bucket (burst AddrBurst, one token back every AddrRefill) of
//     attempts; a successful login gives its token back, so people behind one address are not
//     held up by their own logins.
//   - everywhere: at most Hashes password checks run at once (argon2id takes 64 MiB and a core
//     each); an attempt beyond that is answered 429 at once instead of queueing.
//
// Everything is in memory: a restart forgets it, which costs an attacker a restart per minute
// of guessing.
type loginThrottle struct {
	cfg   ThrottleConfig
	now   func() time.Time
	slots chan struct{}

	// peak is the most password checks that ran at once (for tests and metrics).
	peak atomic.Int32

	mu       sync.Mutex
	accounts map[string]*accountState
	addrs    map[string]*addrState
}

// ThrottleConfig sets the login throttle's limits; zero fields take the defaults.
type ThrottleConfig struct {
	// Base and Max are the first and the longest wait after a wrong password (1 s, 60 s).
	Base, Max time.Duration
	// AddrBurst attempts may come from one address at once (20); one more becomes possible
	// every AddrRefill (15 s), i.e. 240 an hour.
	AddrBurst  int
	AddrRefill time.Duration
	// Hashes is how many password checks may run at once (2).
	Hashes int
}

func (c *ThrottleConfig) defaults() {
	if c.Base == 0 {
		c.Base = time.Second
	}
	if c.Max == 0 {
		c.Max = time.Minute
	}
	if c.AddrBurst == 0 {
		c.AddrBurst = 20
	}
	if c.AddrRefill == 0 {
		c.AddrRefill = 15 * time.Second
	}
	if c.Hashes == 0 {
		c.Hashes = 2
	}
}

type accountState struct {
	failures int       // wrong passwords in a row
	lastFail time.Time // of the latest one
	inFlight bool      // an attempt is being checked
}

type addrState struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// throttleReason says which limit refused an attempt.
type throttleReason string

const (
	throttleAccount throttleReason = "account"
	throttleAddr    throttleReason = "address"
	throttleBusy    throttleReason = "busy"
)

func newLoginThrottle(cfg ThrottleConfig, now func() time.Time) *loginThrottle {
	cfg.defaults()
	if now == nil {
		now = time.Now
	}
	return &loginThrottle{cfg: cfg, now: now, slots: make(chan struct{}, cfg.Hashes),
		accounts: map[string]*accountState{}, addrs: map[string]*addrState{}}
}

// wait is how long the account must wait after n failures in a row.
func (l *loginThrottle) wait(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := float64(l.cfg.Base) * math.Pow(2, float64(n-1))
	if d > float64(l.cfg.Max) {
		return l.cfg.Max
	}
	return time.Duration(d)
}

// reserve takes an attempt for account from addr. When it returns ok, the caller must check
// the password and then call done exactly once; otherwise retry says when to come back.
func (l *loginThrottle) reserve(account, addr string) (ok bool, retry time.Duration, why throttleReason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	acc := l.accounts[account]
	if acc != nil {
		if acc.inFlight {
			return false, l.cfg.Base, throttleAccount
		}
		if until := acc.lastFail.Add(l.wait(acc.failures)); now.Before(until) {
			return false, until.Sub(now), throttleAccount
		}
	}
	if acc == nil && len(l.accounts) >= 2*throttleStateMax {
		return false, time.Second, throttleBusy // a spray of names that sweeping cannot shrink
	}
	ad := l.addrs[addr]
	if ad == nil {
		ad = &addrState{tokens: float64(l.cfg.AddrBurst), at: now}
	}
	ad.refill(now, l.cfg)
	if ad.tokens < 1 {
		return false, time.Duration((1 - ad.tokens) * float64(l.cfg.AddrRefill)), throttleAddr
	}
	select {
	case l.slots <- struct{}{}:
		if n := int32(len(l.slots)); n > l.peak.Load() {
			l.peak.Store(n) // under mu: no lost update
		}
	default:
		return false, time.Second, throttleBusy
	}
	ad.tokens--
	l.addrs[addr] = ad
	if acc == nil {
		acc = &accountState{}
		l.accounts[account] = acc
	}
	acc.inFlight = true
	return true, 0, ""
}

func (a *addrState) refill(now time.Time, cfg ThrottleConfig) {
	a.tokens = min(float64(cfg.AddrBurst), a.tokens+float64(now.Sub(a.at))/float64(cfg.AddrRefill))
	a.at = now
}

// loginOutcome is how a reserved attempt ended.
type loginOutcome int

const (
	loginOK     loginOutcome = iota // the right password
	loginFailed                     // a wrong password or an unknown name
	loginError                      // not checked (e.g. the database unavailable): counts neither way
)

// done ends a reserved attempt: a right password clears the account's failures and gives
// the address its token back; a wrong one makes the account wait longer.
func (l *loginThrottle) done(account, addr string, out loginOutcome) {
	<-l.slots
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	acc := l.accounts[account]
	if acc == nil { // cannot happen while inFlight, but never panic on a login
		acc = &accountState{}
		l.accounts[account] = acc
	}
	acc.inFlight = false
	switch out {
	case loginOK:
		delete(l.accounts, account)
		fallthrough
	case loginError:
		if ad := l.addrs[addr]; ad != nil {
			ad.refill(now, l.cfg)
			ad.tokens = min(float64(l.cfg.AddrBurst), ad.tokens+1)
		}
	case loginFailed:
		acc.failures++
		acc.lastFail = now
	}
}

// throttleStateMax bounds the memory a spray of names or addresses can make us hold.
const throttleStateMax = 100_000

// sweep forgets accounts whose wait has long passed and full address buckets when the maps
// grow large. An account forgotten starts again from the shortest wait, which only helps its
// owner; a guesser gains nothing that waiting out the longest wait would not give.
func (l *loginThrottle) sweep(now time.Time) {
	if len(l.accounts)+len(l.addrs) < throttleStateMax {
		return
	}
	for k, a := range l.accounts {
		if !a.inFlight && now.Sub(a.lastFail) > 2*l.cfg.Max {
			delete(l.accounts, k)
		}
	}
	for k, a := range l.addrs {
		a.refill(now, l.cfg)
		if a.tokens >= float64(l.cfg.AddrBurst) {
			delete(l.addrs, k)
		}
	}
}
