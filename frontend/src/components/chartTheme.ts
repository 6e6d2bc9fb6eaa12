export type ChartTheme = 'dark' | 'light'

export function chartColors(theme: ChartTheme) {
  return theme === 'dark'
    ? { text: '#e6edf7', muted: '#9fb3cc', axis: '#4a5d78', grid: '#24344d', primary: '#3ba7ff', secondary: '#f5b944' }
    : { text: '#1f2937', muted: '#6b7280', axis: '#9ca3af', grid: '#e5e7eb', primary: '#2563eb', secondary: '#d97706' }
}
