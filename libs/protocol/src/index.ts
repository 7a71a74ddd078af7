export * from './auth.js';
export * from './errors.js';
export * from './ids.js';
export * from './keys.js';
export * from './presence.js';
export * from './service.js';
export * from './subjects.js';
export * from './ws.js';
