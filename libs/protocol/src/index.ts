export * from './errors.js';
export * from './ids.js';
export * from './subjects.js';
export * from './keys.js';
export * from './auth.js';
export * from './presence.js';
export * from './ws.js';
export * from './service.js';
