// One live connection to /ws: sequencing (resume, gap → resync), reconnect with full-jitter
// backoff, a watchdog for silent sockets, build-change reload. Framework-free so that the
// unit tests can drive it with fake sockets and a fake clock.
// Sequencing lives here alone: the revision held, the epoch, stale duplicates, gaps and a
// change before any snapshot. The reducer applies what this passes on, in order.
import {
  CLOSE_FELL_BEHIND,
  CLOSE_GOING_AWAY,
  CLOSE_UNAUTHORIZED,
  type ServerMessage,
} from '../api/types'
import { fullJitter } from './backoff'
import { parseFrame } from './reducer'

export type LiveStatus = 'connecting' | 'open' | 'offline'

/** The part of WebSocket we use. */
export interface SocketLike {
  onopen: ((ev: Event) => void) | null
  onmessage: ((ev: MessageEvent) => void) | null
  onclose: ((ev: CloseEvent) => void) | null
  onerror: ((ev: Event) => void) | null
  close(code?: number, reason?: string): void
}

/** What a lightweight HTTP check found out. */
export type ProbeResult =
  | { kind: 'ok'; rev?: number; build?: string }
  | { kind: 'down' }
  | { kind: 'unauthorized' }

export interface LiveDeps {
  createSocket(url: string): SocketLike
  /** Is the server up, is our login still valid, what is its revision? */
  probe(): Promise<ProbeResult>
  reload(): void
  now(): number
  random(): number
  setTimeout(fn: () => void, ms: number): number
  clearTimeout(id: number): void
  setInterval(fn: () => void, ms: number): number
  clearInterval(id: number): void
}

export interface LiveHooks {
  /** Called for every message in order, after sequencing (no stale duplicates, no gaps). */
  onMessage(msg: ServerMessage): void
  onStatus(status: LiveStatus): void
  /** The session ended or the token was revoked (close code 4001): no more reconnects. */
  onUnauthorized(): void
}

export interface LiveOptions {
  /** Base websocket URL including any token, without since/epoch. */
  url: string
  baseDelayMs?: number
  capDelayMs?: number
  /** Silence after which the watchdog checks the server. */
  silenceMs?: number
  watchdogEveryMs?: number
}

export class LiveConnection {
  status: LiveStatus = 'connecting'
  epoch = ''
  lastRev = 0
  loaded = false
  /** Build the page first saw; a different one in a later hello reloads the page. */
  build: string | null = null
  /** When the connection was last lost (or the page started); null while open. */
  disconnectedSince: number | null
  lastMessageAt: number
  unauthorized = false
  attempt = 0

  private socket: SocketLike | null = null
  private opened = false
  private reconnectTimer: number | null = null
  private watchdog: number | null = null
  private probing = false
  private stopped = true
  private readonly o: Required<LiveOptions>

  constructor(
    opts: LiveOptions,
    private readonly hooks: LiveHooks,
    private readonly deps: LiveDeps,
  ) {
    this.o = { baseDelayMs: 500, capDelayMs: 10_000, silenceMs: 70_000, watchdogEveryMs: 5_000, ...opts }
    this.disconnectedSince = deps.now()
    this.lastMessageAt = deps.now()
  }

  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.unauthorized = false
    this.watchdog = this.deps.setInterval(() => this.checkSilence(), this.o.watchdogEveryMs)
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.watchdog !== null) this.deps.clearInterval(this.watchdog)
    this.watchdog = null
    this.clearReconnect()
    this.dropSocket(1000, 'stop')
  }

  /** Throw away what we hold and start over with a snapshot. */
  resync(): void {
    this.loaded = false
    this.reconnectNow()
  }

  /** Reconnect at once (e.g. the browser came back online). */
  reconnectNow(): void {
    if (this.stopped) return
    this.clearReconnect()
    this.dropSocket(4000, 'reconnect')
    this.markDown()
    this.connect()
  }

  /** The URL of the next attempt: resume when we hold data. */
  nextURL(): string {
    if (!this.loaded || !this.epoch) return this.o.url
    const sep = this.o.url.includes('?') ? '&' : '?'
    return `${this.o.url}${sep}since=${this.lastRev}&epoch=${encodeURIComponent(this.epoch)}`
  }

  private connect(): void {
    if (this.stopped) return
    this.setStatus('connecting')
    this.opened = false
    let s: SocketLike
    try {
      s = this.deps.createSocket(this.nextURL())
    } catch {
      this.afterFailure(false)
      return
    }
    this.socket = s
    s.onopen = () => {
      this.opened = true
      this.lastMessageAt = this.deps.now()
    }
    s.onmessage = (ev: MessageEvent) => {
      if (this.socket !== s) return
      this.lastMessageAt = this.deps.now()
      if (typeof ev.data === 'string') this.handle(ev.data)
    }
    s.onerror = () => {
      /* a close event follows */
    }
    s.onclose = (ev: CloseEvent) => {
      if (this.socket !== s) return
      this.socket = null
      this.onClose(ev.code)
    }
  }

  private handle(text: string): void {
    const s = this.socket
    for (const msg of parseFrame(text)) {
      // A message may end this socket (a gap → resync): the rest of its frame is void.
      if (this.stopped || this.socket !== s) return
      this.handleOne(msg)
    }
  }

  private handleOne(msg: ServerMessage): void {
    switch (msg.type) {
      case 'hello':
        if (this.build === null) this.build = msg.build
        else if (msg.build !== this.build) {
          this.deps.reload()
          return
        }
        if (msg.epoch !== this.epoch) {
          // A new database: whatever we hold is void; the server sends a snapshot.
          this.loaded = false
          this.epoch = msg.epoch
        }
        this.attempt = 0
        this.disconnectedSince = null
        this.setStatus('open')
        this.hooks.onMessage(msg)
        return
      case 'snapshot':
        this.lastRev = msg.rev
        this.loaded = true
        this.hooks.onMessage(msg)
        return
      case 'change':
        if (!this.loaded) {
          this.resync()
          return
        }
        if (msg.rev <= this.lastRev) return // stale duplicate
        if (msg.rev !== this.lastRev + 1) {
          this.resync()
          return
        }
        this.lastRev = msg.rev
        this.hooks.onMessage(msg)
        return
      case 'reload':
        this.deps.reload()
        return
    }
  }

  private onClose(code: number): void {
    if (this.stopped) return
    if (code === CLOSE_UNAUTHORIZED) {
      this.giveUpUnauthorized()
      return
    }
    const wasOpen = this.opened
    this.markDown()
    if (code === CLOSE_GOING_AWAY) {
      // Server restarting: come back at once (a little jitter so screens do not stampede).
      this.schedule(Math.floor(this.deps.random() * this.o.baseDelayMs))
      return
    }
    if (code === CLOSE_FELL_BEHIND) {
      this.schedule(fullJitter(0, () => this.deps.random(), this.o.baseDelayMs, this.o.capDelayMs))
      return
    }
    this.afterFailure(wasOpen)
  }

  /** A failed attempt (never opened) may be a 401 at the handshake, which the browser hides. */
  private afterFailure(wasOpen: boolean): void {
    this.markDown()
    if (wasOpen) {
      this.schedule(fullJitter(this.attempt++, () => this.deps.random(), this.o.baseDelayMs, this.o.capDelayMs))
      return
    }
    const delay = fullJitter(this.attempt++, () => this.deps.random(), this.o.baseDelayMs, this.o.capDelayMs)
    this.deps.probe().then(
      (r) => {
        if (this.stopped) return
        if (r.kind === 'unauthorized') this.giveUpUnauthorized()
        else this.schedule(delay)
      },
      () => this.schedule(delay),
    )
  }

  private giveUpUnauthorized(): void {
    this.unauthorized = true
    this.clearReconnect()
    this.dropSocket(1000, 'unauthorized')
    this.markDown()
    this.setStatus('offline')
    this.hooks.onUnauthorized()
  }

  private checkSilence(): void {
    if (this.stopped || this.probing || this.status !== 'open') return
    if (this.deps.now() - this.lastMessageAt < this.o.silenceMs) return
    this.probing = true
    this.deps.probe().then(
      (r) => this.afterProbe(r),
      () => this.afterProbe({ kind: 'down' }),
    )
  }

  private afterProbe(r: ProbeResult): void {
    this.probing = false
    if (this.stopped || this.status !== 'open') return
    this.lastMessageAt = this.deps.now()
    if (r.kind === 'unauthorized') this.giveUpUnauthorized()
    else if (r.kind === 'down') this.reconnectNow()
    else if (r.build !== undefined && this.build !== null && r.build !== this.build) this.deps.reload()
    else if (r.rev !== undefined && r.rev > this.lastRev) this.reconnectNow() // the socket missed changes: it is dead
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.clearReconnect()
    this.setStatus('offline')
    this.reconnectTimer = this.deps.setTimeout(() => {
      this.reconnectTimer = null
      this.connect()
    }, ms)
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== null) this.deps.clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
  }

  private dropSocket(code: number, reason: string): void {
    const s = this.socket
    this.socket = null
    if (!s) return
    s.onopen = s.onmessage = s.onclose = s.onerror = null
    try {
      s.close(code, reason)
    } catch {
      /* already closed */
    }
  }

  private markDown(): void {
    if (this.disconnectedSince === null) this.disconnectedSince = this.deps.now()
  }

  private setStatus(s: LiveStatus): void {
    if (s === this.status) return
    this.status = s
    this.hooks.onStatus(s)
  }
}
