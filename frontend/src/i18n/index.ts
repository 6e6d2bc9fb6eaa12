import { createI18n } from 'vue-i18n'
import en from './en'
import zh from './zh-CN'

export type Locale = 'zh-CN' | 'en'
const KEY = 'projectboard.locale'

function saved(): Locale {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh-CN'
  } catch {
    return 'zh-CN'
  }
}

export const i18n = createI18n({
  legacy: false,
  locale: saved(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zh, en },
})

export function setLocale(l: Locale): void {
  i18n.global.locale.value = l
  document.documentElement.lang = l
  try {
    localStorage.setItem(KEY, l)
  } catch {
    /* private mode: not remembered */
  }
}

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale
}
