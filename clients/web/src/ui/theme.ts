/** Theme: the system's choice by default; the toggle's choice is remembered (localStorage holds only this). */
export type Theme = 'light' | 'dark';
const KEY = 'hush.theme';

export function systemTheme(): Theme {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}
export function savedTheme(): Theme | null {
  try {
    const t = localStorage.getItem(KEY);
    return t === 'light' || t === 'dark' ? t : null;
  } catch {
    return null;
  }
}
export function currentTheme(): Theme {
  const d = document.documentElement.dataset.theme;
  return d === 'light' || d === 'dark' ? d : systemTheme();
}
export function applyTheme(t: Theme | null): void {
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}
export function setTheme(t: Theme): void {
  applyTheme(t);
  try {
    localStorage.setItem(KEY, t);
  } catch {
    // private mode: the toggle still works for this page
  }
}
