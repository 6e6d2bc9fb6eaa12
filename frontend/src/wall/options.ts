// The wall is set up by its URL alone (a screen has no keyboard):
//   /wall?token=…&pages=overview,warnings,problems,units&rotate=30&department=教育局
//        &category=planned&shift=0&dim=22:00-07:00&dimOpacity=0.7&slots=2&stale=60&lang=en
// Pure: the unit tests drive it with plain objects.
import { CATEGORIES, type Category } from '../api/types'
import { WALL_PAGES, type DimWindow, type WallOptions, type WallPage } from './types'

type Query = Record<string, unknown>

export const DEFAULT_ROTATE_S = 30
export const DEFAULT_STALE_S = 60
export const DEFAULT_DIM_OPACITY = 0.7
export const MAX_SLOTS = 4

/** The first value of a query parameter, as vue-router gives it (string, array or null). */
function param(q: Query, name: string): string | null {
  const v = q[name]
  const first = Array.isArray(v) ? v[0] : v
  return typeof first === 'string' ? first : null
}

function numberParam(q: Query, name: string, fallback: number, min: number, max: number): number {
  const s = param(q, name)
  if (s === null || s.trim() === '') return fallback
  const n = Number(s)
  return Number.isFinite(n) && n >= min && n <= max ? n : fallback
}

/** "overview,warnings" → the known pages in the order given, each once; unknown names are ignored. */
export function parsePages(s: string | null): WallPage[] {
  if (s === null) return [...WALL_PAGES]
  const out: WallPage[] = []
  for (const part of s.split(',')) {
    const name = part.trim() as WallPage
    if (WALL_PAGES.includes(name) && !out.includes(name)) out.push(name)
  }
  return out.length > 0 ? out : [...WALL_PAGES]
}

/** "22:00-07:00" → minutes after midnight; null for anything else. */
export function parseDim(s: string | null): DimWindow | null {
  if (!s) return null
  const m = /^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$/.exec(s)
  if (!m) return null
  const [h1, m1, h2, m2] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number]
  if (h1 > 24 || h2 > 24 || m1 > 59 || m2 > 59) return null
  const from = (h1 * 60 + m1) % 1440
  const to = (h2 * 60 + m2) % 1440
  return from === to ? null : { from, to }
}

/** Whether the local time `minutes` (after midnight) is inside the window; from > to spans midnight. */
export function inDimWindow(w: DimWindow | null, minutes: number): boolean {
  if (!w) return false
  return w.from < w.to ? minutes >= w.from && minutes < w.to : minutes >= w.from || minutes < w.to
}

export function parseWallOptions(q: Query): WallOptions {
  const dept = param(q, 'department')?.trim() ?? ''
  const cat = param(q, 'category')
  const slots = numberParam(q, 'slots', 0, 1, MAX_SLOTS)
  return {
    pages: parsePages(param(q, 'pages')),
    rotateMs: Math.round(numberParam(q, 'rotate', DEFAULT_ROTATE_S, 0, 86_400) * 1000),
    staleSeconds: numberParam(q, 'stale', DEFAULT_STALE_S, 0, 86_400),
    shift: !['0', 'false', 'off', 'no'].includes(param(q, 'shift') ?? ''),
    dim: parseDim(param(q, 'dim')),
    dimOpacity: numberParam(q, 'dimOpacity', DEFAULT_DIM_OPACITY, 0, 0.95),
    department: dept === '' ? null : dept.slice(0, 100),
    category: CATEGORIES.includes(cat as Category) ? (cat as Category) : null,
    slots: slots >= 1 ? Math.floor(slots) : null,
  }
}

/** How many 16:9 areas side by side a screen of this size holds (1 for 16:9, 2 for 32:9, 3 for 48:9). */
export function slotsFor(width: number, height: number): number {
  if (width <= 0 || height <= 0) return 1
  const n = Math.floor(width / height / (16 / 9) + 0.02)
  return Math.max(1, Math.min(MAX_SLOTS, n))
}

/**
 * The pages shown side by side in each frame of the rotation. With more pages than areas, the
 * overview stays in the first area (the figures are always in sight) and the others take turns
 * in the rest; with as many areas as pages there is one frame and nothing rotates.
 */
export function framesFor(pages: readonly WallPage[], slots: number): WallPage[][] {
  const n = Math.max(1, Math.min(slots, pages.length))
  if (n >= pages.length) return [[...pages]]
  const pinned = n >= 2 && pages.includes('overview') ? (['overview'] as WallPage[]) : []
  const rest = pages.filter((p) => !pinned.includes(p))
  const k = n - pinned.length
  const frames: WallPage[][] = []
  // Steps of k through the rest until the first of them is back in the first free area.
  let start = 0
  do {
    frames.push([...pinned, ...Array.from({ length: k }, (_, j) => rest[(start + j) % rest.length]!)])
    start = (start + k) % rest.length
  } while (start !== 0)
  return frames
}
