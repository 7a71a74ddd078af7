import { runService } from '@hush/service-kit';
import { loadConfig } from './config.js';
import { startPresence } from './service.js';

// Thin entry point: read env, connect, start, drain on SIGINT/SIGTERM.
await runService('presence', loadConfig(), startPresence);
