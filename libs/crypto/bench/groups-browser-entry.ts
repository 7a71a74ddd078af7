/** Runs in Chromium: groups-core.ts driven from groups.ts, one group size per call. */
import { type GroupRow, groupRow } from './groups-core.js';

declare global {
  interface Window {
    __hushGroups?: (devices: number) => Promise<GroupRow>;
  }
}

window.__hushGroups = groupRow;
