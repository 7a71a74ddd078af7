/** How times, days, presence and safety numbers read on screen (pure; local time). */

/** Groups a 60-digit safety number as 12 groups of 5 (Signal's display). */
export function groupSafetyNumber(digits: string): string[] {
  const clean = digits.replace(/\D/g, '');
  const out: string[] = [];
  for (let i = 0; i < clean.length; i += 5) out.push(clean.slice(i, i + 5));
  return out;
}

/** "12:04", local time (the day is in the timeline's separators). */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** A day separator's words: "Today", "Yesterday", else the weekday and date (with the year when not this year). */
export function dayLabel(ms: number, now: number): string {
  const d = new Date(ms);
  const n = new Date(now);
  const y = new Date(now);
  y.setDate(n.getDate() - 1);
  if (d.toDateString() === n.toDateString()) return 'Today';
  if (d.toDateString() === y.toDateString()) return 'Yesterday';
  return d.toLocaleDateString(undefined, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    ...(d.getFullYear() === n.getFullYear() ? {} : { year: 'numeric' }),
  });
}

/** "12:04", or a short date for older messages; local time. */
export function formatTime(ms: number, now: number): string {
  const d = new Date(ms);
  const n = new Date(now);
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  if (d.toDateString() === n.toDateString()) return hm;
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${hm}`;
}

export function formatLastSeen(p: { online: boolean; lastSeen: number | null } | undefined, now: number): string {
  if (!p) return '';
  if (p.online) return 'online';
  if (p.lastSeen === null) return 'offline';
  const s = Math.max(0, Math.round((now - p.lastSeen) / 1000));
  if (s < 60) return 'last seen just now';
  if (s < 3600) return `last seen ${Math.round(s / 60)} min ago`;
  return `last seen ${formatTime(p.lastSeen, now)}`;
}
