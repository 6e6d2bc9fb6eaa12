// Shared helpers for the browser tests: the real server binary, its API, and Chromium.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const ADMIN_PASSWORD = 'admin-pass-e2e-123'

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (as root), then rerun.`)
  }
}

function serverBinary(): string {
  const bin = resolve(process.env.PROJECTBOARD_BIN ?? resolve(import.meta.dirname, '../../bin/projectboard'))
  if (!existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}: build it (make build) or set PROJECTBOARD_BIN`)
  }
  return bin
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => ok(port))
    })
  })
}

export class TestServer {
  proc: ChildProcess | null = null
  /** The process an upgrade in place (SIGHUP) started: not our child, so handled by PID. */
  adopted: number | null = null
  readonly dir: string
  readonly bin: string
  log = ''

  private constructor(
    readonly port: number,
    readonly extraArgs: string[] = [],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'pb-e2e-'))
    this.bin = serverBinary()
  }

  /** extraArgs go to `serve`, e.g. ['--clock', '2022-11-08T10:00:00+08:00']. */
  static async start(extraArgs: string[] = []): Promise<TestServer> {
    const s = new TestServer(await freePort(), extraArgs)
    await s.spawn()
    return s
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async spawn(): Promise<void> {
    this.adopted = null
    const proc = spawn(this.bin, ['serve', '--addr', `127.0.0.1:${this.port}`, '--db', join(this.dir, 'pb.db'), '--pid-file', this.pidFile, ...this.extraArgs], {
      env: { ...process.env, PROJECTBOARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.proc = proc
    const keep = (b: Buffer) => {
      this.log = (this.log + b.toString()).slice(-20_000)
    }
    proc.stdout?.on('data', keep)
    proc.stderr?.on('data', keep)
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${this.log}`)
      try {
        const r = await fetch(`${this.base}/healthz`)
        if (r.ok) return
      } catch {
        /* not yet */
      }
      await sleep(100)
    }
    throw new Error(`server did not answer /healthz within 20 s:\n${this.log}`)
  }

  get pidFile(): string {
    return join(this.dir, 'pb.pid')
  }

  /** The PID of the process serving now. */
  pid(): number | null {
    return this.adopted ?? this.proc?.pid ?? null
  }

  /**
   * SIGHUP: the server upgrades in place (the binary on disk takes over the socket and the
   * file). Resolves once the new process has written its PID, i.e. serves, and the old one
   * has exited.
   */
  async upgrade(): Promise<number> {
    const old = this.pid()
    const p = this.proc
    if (old === null || !p) throw new Error('no server to upgrade')
    const oldExited = p.exitCode !== null ? Promise.resolve() : new Promise((ok) => p.once('exit', ok))
    process.kill(old, 'SIGHUP')
    const deadline = Date.now() + 20_000
    for (;;) {
      let pid = 0
      try {
        pid = Number(readFileSync(this.pidFile, 'utf8').trim())
      } catch {
        /* not written yet */
      }
      if (pid && pid !== old) {
        this.adopted = pid
        break
      }
      if (Date.now() > deadline) throw new Error(`no new process within 20 s of SIGHUP:\n${this.log}`)
      await sleep(20)
    }
    await Promise.race([oldExited, sleep(15_000)])
    if (p.exitCode === null) throw new Error(`the old process did not exit after the upgrade:\n${this.log}`)
    return this.adopted
  }

  private async signalAdopted(signal: NodeJS.Signals, waitMs: number): Promise<void> {
    const pid = this.adopted
    if (pid === null) return
    try {
      process.kill(pid, signal)
    } catch {
      return // already gone
    }
    const deadline = Date.now() + waitMs
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0)
      } catch {
        return
      }
      await sleep(20)
    }
    if (signal !== 'SIGKILL') await this.signalAdopted('SIGKILL', 5000)
  }

  /** SIGKILL: no graceful shutdown, as in a crash. */
  async kill(): Promise<void> {
    if (this.adopted !== null) {
      await this.signalAdopted('SIGKILL', 5000)
      this.adopted = null
      this.proc = null
      return
    }
    const p = this.proc
    if (!p || p.exitCode !== null) return
    const exited = new Promise((ok) => p.once('exit', ok))
    p.kill('SIGKILL')
    await exited
    this.proc = null
  }

  async stop(): Promise<void> {
    await this.signalAdopted('SIGTERM', 5000)
    this.adopted = null
    const p = this.proc
    if (p && p.exitCode === null) {
      const exited = new Promise((ok) => p.once('exit', ok))
      p.kill('SIGTERM')
      await Promise.race([exited, sleep(5000)])
      if (p.exitCode === null) p.kill('SIGKILL')
    }
    this.proc = null
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms))
}

/** A tiny API client with a session cookie. */
export class Api {
  cookie = ''
  constructor(readonly base: string) {}

  async login(username: string, password: string): Promise<void> {
    const r = await fetch(`${this.base}/api/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    })
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${await r.text()}`)
    const set = r.headers.getSetCookie().find((c) => c.startsWith('pb_session='))
    if (!set) throw new Error('login: no pb_session cookie')
    this.cookie = set.split(';')[0]!
  }

  async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; data: T; etag: string | null }> {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        Cookie: this.cookie,
        Origin: this.base,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await r.text()
    return { status: r.status, data: (text ? JSON.parse(text) : null) as T, etag: r.headers.get('ETag') }
  }

  async ok<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
    const r = await this.call<T>(method, path, body, headers)
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.data)}`)
    return r.data
  }
}

export async function launch(): Promise<Browser> {
  requireChromium()
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Collects console errors and uncaught exceptions of a page. */
export function watchConsole(page: Page, allowed: RegExp[] = []): string[] {
  const errors: string[] = []
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() !== 'error') return
    // A failed load names no URL in its text: the location says which.
    const url = m.location().url
    const text = url && !m.text().includes(url) ? `${m.text()} (${url})` : m.text()
    if (allowed.some((re) => re.test(text))) return
    errors.push(`console: ${text}`)
  })
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  return errors
}

/** Network failures a browser logs by itself while the server is down: expected in the crash test only. */
export const SERVER_DOWN_NOISE = [/WebSocket connection to .* failed/, /Failed to load resource: net::ERR_CONNECTION_REFUSED/, /ERR_CONNECTION_REFUSED/]

/** Logs in through the login page and waits until it has left it (for `next`, default `/`). */
export async function loginThroughPage(page: Page, base: string, username: string, password: string, next = '/'): Promise<void> {
  await page.goto(`${base}/login?next=${encodeURIComponent(next)}`)
  await page.fill('input[name=username]', username)
  await page.fill('input[name=password]', password)
  await page.press('input[name=password]', 'Enter')
  await page.waitForURL((u) => !u.pathname.startsWith('/login'))
}
