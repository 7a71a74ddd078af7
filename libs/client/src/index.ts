export { Connection } from './connection.js';
export { Emitter } from './emitter.js';
export { type BytesProgress, HushClient } from './http.js';
export type {
  ConnectionEvents,
  ConnectionSession,
  ConnectionState,
  ConnectOptions,
  HushClientOptions,
  WebSocketCtor,
  WebSocketLike,
} from './types.js';
