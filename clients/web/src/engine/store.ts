import type { AppState } from './types.js';

/** A tiny observable holder for AppState (the views subscribe; the engine replaces slices). */
export class StateStore {
  private listeners = new Set<() => void>();
  constructor(private s: AppState) {}
  get state(): AppState {
    return this.s;
  }
  update(patch: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void {
    const p = typeof patch === 'function' ? patch(this.s) : patch;
    this.s = { ...this.s, ...p };
    for (const l of this.listeners) l();
  }
  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

export const initialState = (): AppState => ({
  phase: 'loading',
  appLock: false,
  me: null,
  conversations: [],
  messages: {},
  presence: {},
  typing: {},
  connection: 'offline',
  showWire: false,
  notice: null,
  busy: false,
  transfers: {},
  profile: null,
});
