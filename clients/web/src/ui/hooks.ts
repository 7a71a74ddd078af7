import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { Actions, AppState, StateStore } from '../engine/index.js';

export const StoreContext = createContext<StateStore | null>(null);
export const ActionsContext = createContext<Actions | null>(null);

export function useAppState(): AppState {
  const store = useContext(StoreContext)!;
  const [s, set] = useState(store.state);
  useEffect(() => {
    const off = store.subscribe(() => set(store.state));
    // An update may have landed between the first render and this subscription.
    set(store.state);
    return off;
  }, [store]);
  return s;
}
export function useActions(): Actions {
  return useContext(ActionsContext)!;
}

/** Re-renders every `ms` so relative times ("last seen 3 min ago") stay fresh. */
export function useNow(ms = 30_000): number {
  const [now, set] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => set(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
