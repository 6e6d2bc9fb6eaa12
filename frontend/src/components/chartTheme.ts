export type ChartTheme = 'dark' | 'light'

/**
 * The page's own fonts (style.css :root): chart text looks like the text around it, and a
 * canvas asking for the face the page has already laid out finds it at once, where a generic
 * "sans-serif" first goes looking for a face with Chinese glyphs.
 */
export const CHART_FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', system-ui, sans-serif"

export function chartColors(theme: ChartTheme) {
  return theme === 'dark'
    ? { text: '#e6edf7', muted: '#9fb3cc', axis: '#4a5d78', grid: '#24344d', primary: '#3ba7ff', secondary: '#f5b944' }
    : { text: '#1f2937', muted: '#6b7280', axis: '#9ca3af', grid: '#e5e7eb', primary: '#2563eb', secondary: '#d97706' }
}
