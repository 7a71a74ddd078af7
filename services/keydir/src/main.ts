import { runService } from '@hush/service-kit';
import { loadConfig } from './config.js';
import { startKeydir } from './service.js';

// Thin entry point: read env, connect, start, drain on SIGINT/SIGTERM.
await runService('keydir', loadConfig(), startKeydir);
