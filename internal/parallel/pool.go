package parallel

import (
	"runtime"
	"sync/atomic"
	"time"
)

// spinFor is how long a helper keeps looking for the next loop after its last
// one before it parks. A model runs its ops back to back, microseconds apart,
// while waking a parked thread takes 10-50 microseconds (more on a busy
// machine): paid by each op of a decoder step, that was 3-6% of the step.
const spinFor = 200 * time.Microsecond

// wakeTokens bounds the wake tokens pending: a helper that saw its loop just
// before it parked leaves the loop's token for a later park, which then only
// spins once more.
const wakeTokens = 1024

// helperPool is the process's helper goroutines (pool), GOMAXPROCS-1 of them,
// started by the first For that needs them and kept for the process's life.
// Between loops each spins for spinFor, yielding its core to any other
// goroutine ready to run, then parks until a loop wakes it. One For at a time
// holds them (busy).
type helperPool struct {
	busy    atomic.Bool
	current atomic.Pointer[loop] // the loop to join
	helpers atomic.Int32
	parked  atomic.Int32
	wake    chan struct{}
}

var pool = helperPool{wake: make(chan struct{}, wakeTokens)}

// offer hands l to the helpers (the caller holds busy): it starts helpers
// up to l's seats and wakes as many parked ones as there are seats (on a
// machine of many cores a loop of a few indices leaves the rest asleep).
func (p *helperPool) offer(l *loop) {
	for p.helpers.Load() < l.seats.Load() {
		p.helpers.Add(1)
		go p.help()
	}
	p.current.Store(l)
	for range min(p.parked.Load(), l.seats.Load()) {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// release ends the loop that offer handed out (closed by then) and frees the
// helpers for the next For.
func (p *helperPool) release() {
	p.current.Store(nil)
	p.busy.Store(false)
}

// help is a helper's life: it joins every new loop it sees, spinning between
// loops for spinFor and parked after that.
func (p *helperPool) help() {
	var last *loop // kept, so that a new loop cannot reuse its address
	idleSince := time.Now()
	for {
		if l := p.current.Load(); l != nil && l != last {
			last = l
			l.join()
			idleSince = time.Now()
			continue
		}
		if time.Since(idleSince) < spinFor {
			runtime.Gosched()
			continue
		}
		// Counted as parked before looking once more: a loop offered
		// after that look sees the count and sends a token.
		p.parked.Add(1)
		if l := p.current.Load(); l == nil || l == last {
			<-p.wake
		}
		p.parked.Add(-1)
		idleSince = time.Now()
	}
}
