// Shared helpers for the browser tests: the real server binary, its API, and Chromium.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
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
  readonly dir: string
  readonly bin: string
  log = ''

  private constructor(
    readonly port: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'pb-e2e-'))
    this.bin = serverBinary()
  }

  static async start(): Promise<TestServer> {
    const s = new TestServer(await freePort())
    await s.spawn()
    return s
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async spawn(): Promise<void> {
    const proc = spawn(this.bin, ['serve', '--addr', `127.0.0.1:${this.port}`, '--db', join(this.dir, 'pb.db')], {
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

  /** SIGKILL: no graceful shutdown, as in a crash. */
  async kill(): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null) return
    const exited = new Promise((ok) => p.once('exit', ok))
    p.kill('SIGKILL')
    await exited
    this.proc = null
  }

  async stop(): Promise<void> {
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
    const text = m.text()
    if (allowed.some((re) => re.test(text))) return
    errors.push(`console: ${text}`)
  })
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`))
  return errors
}

/** Network failures a browser logs by itself while the server is down: expected in the crash test only. */
export const SERVER_DOWN_NOISE = [/WebSocket connection to .* failed/, /Failed to load resource: net::ERR_CONNECTION_REFUSED/, /ERR_CONNECTION_REFUSED/]
