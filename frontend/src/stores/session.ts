// Who is looking: a logged-in user, or a wall screen with a display token.
import { computed, ref } from 'vue'
import { api, ApiError } from '../api/client'
import type { Project, Token, User } from '../api/types'

export const user = ref<User | null>(null)
export const token = ref<Token | null>(null)
export const checked = ref(false)

export const isAdmin = computed(() => user.value?.role === 'admin')

/** The office (项目办): an admin, or an editor without department restriction. */
export const isOffice = computed(() => {
  const u = user.value
  return !!u && (u.role === 'admin' || (u.role === 'editor' && u.departments.length === 0))
})

/** May the current user write reports and problems of this unit? Mirrors the server's rule. */
export function canReportFor(department: string): boolean {
  const u = user.value
  if (!u) return false
  if (u.role === 'admin') return true
  if (u.role !== 'editor') return false
  return u.departments.length === 0 || u.departments.includes(department)
}

/** Editors and admins see 本月填报. */
export const mayReport = computed(() => user.value?.role === 'admin' || user.value?.role === 'editor')

/** May the current user change this project? Mirrors the server's rule (the server decides). */
export function canEdit(p: Project): boolean {
  const u = user.value
  if (!u) return false
  if (u.role === 'admin') return true
  if (u.role !== 'editor') return false
  return u.departments.length === 0 || u.departments.includes(p.department)
}

/** Ask the server who we are; false when not logged in. */
export async function loadMe(): Promise<boolean> {
  try {
    const me = await api.me()
    user.value = me.user ?? null
    token.value = me.token ?? null
    return true
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      user.value = null
      token.value = null
      return false
    }
    throw e
  } finally {
    checked.value = true
  }
}

export async function login(username: string, password: string): Promise<void> {
  user.value = await api.login(username, password)
  token.value = null
  checked.value = true
}

export async function logout(): Promise<void> {
  try {
    await api.logout()
  } finally {
    user.value = null
  }
}
